# gunicorn settings for the Python agent's gunicorn test: a leaking thread in every worker.
import threading


def post_fork(server, worker):
    import gunicorn_app

    threading.Thread(target=gunicorn_app.background, daemon=True).start()
