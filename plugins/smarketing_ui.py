"""The Smarketing page in the Airflow UI: an Airflow 3 plugin, thin on purpose.

The page itself is `smarketing.ui.app` (a FastAPI app with Airflow's access check on every route);
this file only tells the API server where to mount it and the UI where to show it: an entry in the
navigation, and a tab on each DAG that opens the page at that DAG's part. Both open inside the UI
(an iframe at `url_route`). The API server reads plugins when it starts: restart it after a change.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from smarketing.ui.app import URL_PREFIX, airflow_base_path, create_app

# A deployment under a path (`[api] base_url = https://host/airflow`) serves plugins under it too.
BASE_PATH = airflow_base_path()


class SmarketingUiPlugin(AirflowPlugin):
    name = "smarketing_ui"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"name": "smarketing", "app": create_app(), "url_prefix": URL_PREFIX}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Smarketing",
            "href": f"{BASE_PATH}{URL_PREFIX}/",
            "url_route": "smarketing",
            "destination": "nav",
            "nav_top_level": True,
        },
        {
            "name": "Smarketing",
            "href": f"{BASE_PATH}{URL_PREFIX}/dag/{{DAG_ID}}",
            "url_route": "smarketing-dag",
            "destination": "dag",
        },
    ]
