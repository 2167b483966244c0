"""The desktop GUI (PySide6): the only package that imports Qt; start it with `app.run(path)`."""
