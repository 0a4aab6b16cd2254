# The image behind docker-compose.yml: web (gunicorn), worker and beat share it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY . .
RUN HSE_ENV=production SECRET_KEY=build-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --no-input

RUN useradd --create-home hse && chown -R hse /app
USER hse
EXPOSE 8000
# gunicorn reads its settings from gunicorn.conf.py; uvicorn workers serve the pages and their
# WebSockets (marketplace.asgi).
CMD ["gunicorn", "-k", "uvicorn_worker.UvicornWorker", "marketplace.asgi:application"]
