# The Airflow image of docker-compose.yaml: the official Airflow 3.3.2 image (Python 3.11) with this project's
# pinned runtime requirements and the smarketing package. The project's files (sql/ migrations, config/,
# dags/) live under /opt/smarketing, which SMARKETING_HOME names; compose mounts dags/ and config/ over
# them read-only, so an edit of the agreement or a DAG needs no rebuild.
FROM apache/airflow:3.3.2-python3.11

ENV SMARKETING_HOME=/opt/smarketing

# Pinned requirements first: this layer is rebuilt only when requirements.txt changes. Airflow itself is
# named too, so nothing in the lock can move the image's Airflow.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /tmp/requirements.txt

USER root
COPY pyproject.toml README.md /opt/smarketing/
COPY include /opt/smarketing/include
COPY sql /opt/smarketing/sql
COPY config /opt/smarketing/config
COPY dags /opt/smarketing/dags
COPY scripts/compose-init.sh /opt/smarketing/scripts/compose-init.sh
RUN chown -R airflow:0 /opt/smarketing
USER airflow
RUN pip install --no-cache-dir --no-deps /opt/smarketing
