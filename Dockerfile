# The image docker-compose.yaml runs: Airflow 3.3.2 with this package and its
# pinned requirements baked in (no _PIP_ADDITIONAL_REQUIREMENTS, which reinstalls
# on every start of every container; reference/airflow3.md §8).
#
#   docker compose build            # or: docker build -t roistat-bpmonline-airflow .
#
# Python 3.11: pyproject.toml requires it and requirements-lock.txt was frozen on
# it. The plain apache/airflow:3.3.2 tag carries a newer Python.
ARG AIRFLOW_BASE_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_BASE_IMAGE}

USER airflow

# The pins first, in a layer of their own: they change less often than the code.
# The lock file is a pip freeze of the environment the tests pass in.
COPY --chown=airflow:root requirements.txt requirements-lock.txt /tmp/roistat/
RUN pip install --no-cache-dir -r /tmp/roistat/requirements.txt -c /tmp/roistat/requirements-lock.txt

# The package itself, for its provider entry point: that is what registers the
# `bpmonline` connection type (reference/airflow3.md §2).
COPY --chown=airflow:root pyproject.toml README.md /tmp/roistat/
COPY --chown=airflow:root plugins /tmp/roistat/plugins
RUN pip install --no-cache-dir --no-deps /tmp/roistat && rm -rf /tmp/roistat

# The code Airflow runs, so the image works without bind mounts (Kubernetes, a
# second machine); docker-compose.yaml mounts the working tree over dags/,
# plugins/ and include/. The sandbox (a local bpm'online) ships for the compose
# `sandbox` profile.
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
COPY --chown=airflow:root sandbox /opt/airflow/sandbox
RUN mkdir -p /opt/airflow/auth /opt/airflow/sandbox-data

# plugins/ first on sys.path, so the mounted roistat package wins over the copy
# pip installed; include/ is found beside plugins/ and named here as well.
ENV PYTHONPATH=/opt/airflow/plugins \
    ROISTAT_INCLUDE_DIR=/opt/airflow/include \
    ROISTAT_SETTINGS_FILE=/opt/airflow/include/config/integration.yaml
