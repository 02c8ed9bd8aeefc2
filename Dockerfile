# One image for every Dagster process of Program Pulse (compose.yaml: the webserver, the daemon and
# the runs the daemon launches): the project with its PostgreSQL extra and the Dagster webserver,
# and a DAGSTER_HOME whose dagster.yaml is the project's with PostgreSQL storage switched on.
# No secret is built in: every credential is read from the environment when a process starts.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home

# The project's folder (its pyproject.toml names the code location: pipelines.definitions, as
# deploy/workspace.yaml does).
WORKDIR /opt/program-pulse

# Dependencies first, from pyproject.toml alone (deploy/requirements.py), so that a change to the
# code reuses this layer.
COPY pyproject.toml deploy/requirements.py ./
RUN python requirements.py pyproject.toml > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm requirements.py /tmp/requirements.txt

# Installed editable from its folder, as `make install` does: the definitions loader finds the
# project by its pyproject.toml, which a copy in site-packages would not have.
COPY . .
RUN pip install --no-deps -e . \
 && mkdir -p "$DAGSTER_HOME/storage" /data \
 && sh deploy/postgres-dagster-yaml.sh dagster.yaml > "$DAGSTER_HOME/dagster.yaml" \
 && useradd --system --uid 10001 --user-group --home-dir /opt/program-pulse --no-create-home pulse \
 && chown -R pulse:pulse "$DAGSTER_HOME" /data

USER pulse
EXPOSE 3000
CMD ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "/opt/program-pulse/deploy/workspace.yaml"]
