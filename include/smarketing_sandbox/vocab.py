"""Fixed vocabularies of the sandbox world: countries, names, personas, industries, web pages.

Everything here is a plain tuple so that the generated world depends on nothing but the arguments of
`generate_world`. Probabilities in each table sum to 1.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple


class Country(NamedTuple):
    code: str
    name: str
    weight: float
    tld: str
    legal_forms: tuple[str, ...]
    names: str  # key into NAME_POOLS


COUNTRIES: tuple[Country, ...] = (
    Country("FR", "France", 0.30, "fr", ("SAS", "SA", "SARL"), "fr"),
    Country("DE", "Germany", 0.17, "de", ("GmbH", "AG"), "de"),
    Country("GB", "United Kingdom", 0.13, "co.uk", ("Ltd", "PLC"), "en"),
    Country("ES", "Spain", 0.08, "es", ("S.L.", "S.A."), "es"),
    Country("IT", "Italy", 0.08, "it", ("S.r.l.", "S.p.A."), "it"),
    Country("NL", "Netherlands", 0.07, "nl", ("B.V.", "N.V."), "nl"),
    Country("US", "United States", 0.09, "com", ("Inc.", "LLC"), "en"),
    Country("BE", "Belgium", 0.03, "be", ("SA", "BV"), "fr"),
    Country("CH", "Switzerland", 0.03, "ch", ("AG", "SA"), "de"),
    Country("SE", "Sweden", 0.02, "se", ("AB",), "sv"),
)

# fmt: off
NAME_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fr": (
        (
            "Camille", "Léa", "Manon", "Chloé", "Zoé", "Julie", "Sophie", "Claire", "Inès", "Emma", "Hélène",
            "Nathalie", "Thomas", "Nicolas", "Julien", "Antoine", "Maxime", "Hugo", "Lucas", "Pierre",
            "François", "Mathieu", "Jérôme", "Olivier",
        ),
        (
            "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
            "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
            "Vincent", "Fournier", "Morel", "Girard", "Mercier", "Faure",
        ),
    ),
    "de": (
        (
            "Anna", "Lena", "Julia", "Laura", "Sarah", "Katharina", "Sophie", "Jana", "Lisa", "Miriam",
            "Sabine", "Claudia", "Lukas", "Jonas", "Felix", "Maximilian", "Tobias", "Jan", "Stefan",
            "Michael", "Jürgen", "Matthias", "Andreas", "Florian",
        ),
        (
            "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
            "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
            "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann",
        ),
    ),
    "en": (
        (
            "Olivia", "Emily", "Sophia", "Jessica", "Charlotte", "Amelia", "Grace", "Hannah", "Lucy",
            "Rachel", "Megan", "Sarah", "James", "Oliver", "Jack", "Harry", "William", "George", "Daniel",
            "Michael", "Matthew", "David", "Andrew", "Ryan",
        ),
        (
            "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
            "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
            "Clarke", "Miller", "Davis", "Anderson", "O'Brien",
        ),
    ),
    "es": (
        (
            "Lucía", "María", "Paula", "Sofía", "Carmen", "Laura", "Marta", "Elena", "Ana", "Cristina",
            "Isabel", "Raquel", "Hugo", "Pablo", "Javier", "Alejandro", "Daniel", "Álvaro", "Sergio",
            "Carlos", "Diego", "Miguel", "Jorge", "Andrés",
        ),
        (
            "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
            "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero",
            "Alonso", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
        ),
    ),
    "it": (
        (
            "Giulia", "Francesca", "Chiara", "Sara", "Martina", "Alessia", "Valentina", "Elisa", "Federica",
            "Silvia", "Paola", "Elena", "Marco", "Alessandro", "Luca", "Matteo", "Andrea", "Francesco",
            "Lorenzo", "Davide", "Simone", "Giorgio", "Niccolò", "Stefano",
        ),
        (
            "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
            "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo",
            "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani",
        ),
    ),
    "nl": (
        (
            "Emma", "Sanne", "Lotte", "Fleur", "Anouk", "Lisa", "Eva", "Iris", "Femke", "Noor", "Sophie",
            "Marieke", "Daan", "Bram", "Sem", "Lars", "Thijs", "Ruben", "Jeroen", "Bas", "Niels", "Pieter",
            "Joost", "Willem",
        ),
        (
            "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
            "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks",
            "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf",
        ),
    ),
    "sv": (
        (
            "Elsa", "Alice", "Maja", "Ebba", "Wilma", "Astrid", "Ingrid", "Karin", "Linnea", "Sofia", "Frida",
            "Saga", "Erik", "Lars", "Anders", "Johan", "Oskar", "Nils", "Gustav", "Magnus", "Björn", "Henrik",
            "Axel", "Olof",
        ),
        (
            "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
            "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Jönsson",
            "Lindberg", "Jakobsson", "Magnusson", "Lindström", "Olofsson", "Lindqvist", "Lindgren", "Berg",
        ),
    ),
}
# fmt: on
NAME_POOL_KEYS: tuple[str, ...] = tuple(NAME_POOLS)

# Free-mail providers; a contact writing from one of them is a weak buying signal in the agreement.
# fmt: off
FREE_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "yahoo.fr", "orange.fr", "free.fr",
    "gmx.de", "web.de", "t-online.de", "yahoo.co.uk", "btinternet.com", "libero.it", "hotmail.es", "ziggo.nl",
    "bluewin.ch", "telia.com",
)
# fmt: on
# Per country: the local providers people there use besides the global ones.
LOCAL_FREE_MAIL: dict[str, tuple[str, ...]] = {
    "FR": ("yahoo.fr", "orange.fr", "free.fr"),
    "DE": ("gmx.de", "web.de", "t-online.de"),
    "GB": ("yahoo.co.uk", "btinternet.com"),
    "ES": ("hotmail.es",),
    "IT": ("libero.it",),
    "NL": ("ziggo.nl",),
    "US": (),
    "BE": ("yahoo.fr",),
    "CH": ("bluewin.ch", "gmx.de"),
    "SE": ("telia.com",),
}
GLOBAL_FREE_MAIL_WEIGHTS: dict[str, float] = {
    "gmail.com": 0.45,
    "outlook.com": 0.12,
    "hotmail.com": 0.10,
    "yahoo.com": 0.05,
    "icloud.com": 0.05,
}
LOCAL_FREE_MAIL_SHARE = 0.23


class Persona(NamedTuple):
    id: str
    weight: float  # share of contacts
    fit: float  # how well the persona matches the ideal buyer, 0..1
    free_mail: float  # probability of writing from a free-mail address
    titles: tuple[str, ...]


# fmt: off
PERSONAS: tuple[Persona, ...] = (
    Persona("it_leader", 0.11, 1.00, 0.04, (
        "CTO", "CIO", "IT Director", "Head of IT", "VP Engineering", "Chief Technology Officer",
        "Chief Information Officer", "Director of IT", "DSI", "Directeur Informatique",
    )),
    Persona("ops_leader", 0.07, 0.75, 0.05, (
        "COO", "Operations Manager", "Head of Operations", "Chief Operating Officer", "Operations Director",
    )),
    Persona("finance_leader", 0.07, 0.65, 0.05, (
        "CFO", "Finance Director", "Head of Finance", "Financial Controller", "Chief Financial Officer",
    )),
    Persona("practitioner", 0.28, 0.45, 0.12, (
        "Software Engineer", "Developer", "Senior Developer", "DevOps Engineer", "Data Engineer",
        "System Administrator", "IT Manager", "Solutions Architect",
    )),
    Persona("marketing", 0.13, 0.30, 0.07, (
        "Marketing Manager", "CMO", "Head of Marketing", "Growth Marketer", "Marketing Director",
    )),
    Persona("sales", 0.09, 0.20, 0.07, (
        "Sales Manager", "Account Executive", "Head of Sales", "Business Developer",
    )),
    Persona("non_buyer", 0.25, 0.00, 0.4, (
        "Student", "Intern", "Consultant", "Freelancer", "Teacher", "Assistant", "Journalist",
    )),
)
# fmt: on


# Points marketing's hand-over rule gives a persona it recognises from the job title (see marketing.py).
PERSONA_MQL_POINTS: tuple[int, ...] = (25, 18, 15, 8, 5, 0, -25)
# How the persona moves the log-odds of winning a deal (sales.win_log_odds): the planted outcome.
PERSONA_WIN_LOG_ODDS: tuple[float, ...] = (1.3, 0.7, 0.5, -0.4, -0.9, -1.1, -1.8)


class Industry(NamedTuple):
    name: str
    weight: float
    fit: float
    variants: tuple[str, ...]  # spellings seen in exports besides the canonical name
    name_suffixes: tuple[str, ...]  # words used in company names of this industry


# fmt: off
INDUSTRIES: tuple[Industry, ...] = (
    Industry("Software", 0.16, 1.00, ("software", "Computer Software", "SaaS"),
             ("Systems", "Software", "Labs", "Tech")),
    Industry("Financial Services", 0.11, 0.85, ("financial services", "Banking", "Finance"),
             ("Capital", "Finance", "Partners", "Bank")),
    Industry("Manufacturing", 0.14, 0.80, ("manufacturing", "Industrial Manufacturing", "Industry"),
             ("Industries", "Manufacturing", "Works", "Engineering")),
    Industry("Logistics", 0.07, 0.75, ("Transportation & Logistics", "logistics", "Supply Chain"),
             ("Logistics", "Freight", "Transport", "Shipping")),
    Industry("Retail", 0.1, 0.60, ("retail", "E-commerce", "Retail & Consumer Goods"),
             ("Retail", "Stores", "Market", "Goods")),
    Industry("Healthcare", 0.08, 0.60, ("Health Care", "healthcare", "Hospital & Health Care"),
             ("Health", "Medical", "Care", "Clinics")),
    Industry("Telecommunications", 0.05, 0.70, ("Telecom", "telecommunications", "Telecoms"),
             ("Telecom", "Networks", "Connect", "Mobile")),
    Industry("Professional Services", 0.09, 0.50, ("Consulting", "Management Consulting", "professional services"),
             ("Consulting", "Advisory", "Partners", "Group")),
    Industry("Media", 0.05, 0.40, ("Media & Entertainment", "media", "Publishing"),
             ("Media", "Studios", "Publishing", "Press")),
    Industry("Energy", 0.05, 0.65, ("Utilities", "energy", "Oil & Energy"),
             ("Energy", "Power", "Utilities", "Renewables")),
    Industry("Education", 0.05, 0.15, ("Higher Education", "education", "E-Learning"),
             ("Academy", "Learning", "Institute", "School")),
    Industry("Government", 0.05, 0.20, ("Public Sector", "government", "Government Administration"),
             ("Agency", "Authority", "Office", "Council")),
)
# fmt: on
INDUSTRY_VARIANT_SHARE = 0.15

# fmt: off
COMPANY_NAME_HEADS: tuple[str, ...] = (
    "Blue", "North", "Silver", "Green", "Red", "Nova", "Alpha", "Terra", "Sun", "Iron", "Clear", "Bright",
    "High", "Swift", "True", "Oak", "Stone", "River", "Cloud", "Star", "Polar", "Urban", "Vivid", "Prime",
    "Atlas", "Orbit", "Delta", "Summit", "Cobalt", "Amber", "Coral", "Crystal", "Golden", "Maple", "Falcon",
    "Lynx", "Opal", "Quartz", "Zenith", "Echo",
)
# fmt: on
# fmt: off
COMPANY_NAME_TAILS: tuple[str, ...] = (
    "peak", "wind", "field", "bridge", "gate", "point", "line", "way", "wave", "forge", "light", "ridge",
    "port", "vale", "mark", "core", "path", "shore", "crest", "haven", "brook", "spring", "view", "hill",
    "wood", "lake", "rock", "bay", "dale", "moor",
)
# fmt: on

# The vendor whose sales team the owners are.
VENDOR_DOMAIN = "sandboxsoft.io"

TEAM_NAMES: tuple[str, ...] = ("Enterprise", "Mid-Market", "North America", "DACH", "Southern Europe")
TEAM_NORTH_AMERICA = 2
TEAM_DACH = 3
TEAM_SOUTHERN_EUROPE = 4
ENTERPRISE_MIN_EMPLOYEES = 1000

TOPICS: tuple[str, ...] = ("pricing", "integration", "security", "product", "careers", "company", "events")
TOPIC_INDEX = {t: i for i, t in enumerate(TOPICS)}


class Page(NamedTuple):
    url: str
    topic: str


# Pages a visitor browses without a particular intent; careers pages attract job seekers, not buyers.
GENERIC_PAGES: tuple[Page, ...] = (
    Page("/", "product"),
    Page("/product", "product"),
    Page("/product/lead-scoring", "product"),
    Page("/product/integrations", "integration"),
    Page("/integrations/salesforce", "integration"),
    Page("/integrations/hubspot", "integration"),
    Page("/security", "security"),
    Page("/security/gdpr", "security"),
    Page("/blog/lead-scoring-101", "product"),
    Page("/blog/sales-marketing-sla", "product"),
    Page("/blog/data-security-checklist", "security"),
    Page("/customers", "product"),
    Page("/about", "company"),
    Page("/careers", "careers"),
    Page("/careers/jobs", "careers"),
)
CAREERS_PAGES: tuple[int, ...] = (13, 14)
PRICING_PAGES: tuple[Page, ...] = (Page("/pricing", "pricing"), Page("/pricing/enterprise", "pricing"))
FORM_PAGES: tuple[Page, ...] = (
    Page("/contact", "product"),
    Page("/newsletter", "product"),
    Page("/whitepaper/security-guide", "security"),
    Page("/ebook/integration-playbook", "integration"),
    Page("/roi-calculator", "pricing"),
)
NEWSLETTER_FORM = 1
ASSET_PAGES: tuple[Page, ...] = (
    Page("/assets/security-whitepaper.pdf", "security"),
    Page("/assets/integration-guide.pdf", "integration"),
    Page("/assets/roi-calculator.xlsx", "pricing"),
    Page("/assets/product-brochure.pdf", "product"),
)
DEMO_PAGE = Page("/demo", "product")
# Where a click in a campaign e-mail of each topic lands.
LANDING_PAGES: dict[str, str] = {
    "pricing": "/pricing",
    "integration": "/product/integrations",
    "security": "/security",
    "product": "/product",
    "events": "/events",
}
EMAIL_TOPIC_CYCLE: tuple[str, ...] = ("pricing", "integration", "security", "product", "events")
WEBINAR_TOPIC_CYCLE: tuple[str, ...] = ("integration", "security", "product", "pricing")


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters only: the part of a name that can go into an e-mail address."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")
