#!/bin/sh
# Container entrypoint: bring the database schema up to date, then exec the
# command (gunicorn by default, or whatever was given, e.g. a Celery worker).
#
# Migrations run before the web server by default and are skipped for other
# commands, so that N workers do not race to migrate. RUN_MIGRATIONS=1 forces
# them, RUN_MIGRATIONS=0 skips them (e.g. when a one-off job migrates first).
set -eu

if [ "$#" -eq 0 ]; then
    set -- gunicorn -c app/gunicorn_conf.py wsgi:app
fi

case "${RUN_MIGRATIONS:-auto}" in
    1 | true | yes) migrate=1 ;;
    0 | false | no) migrate=0 ;;
    *) if [ "$1" = gunicorn ]; then migrate=1; else migrate=0; fi ;;
esac

if [ "$migrate" = 1 ]; then
    echo "entrypoint: flask db upgrade" >&2
    flask --app wsgi db upgrade
    flask --app wsgi init-tracking
fi

exec "$@"
