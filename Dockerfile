# Airflow image with the pinned smarketing dependencies; the repository itself is mounted at /opt/smarketing.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
