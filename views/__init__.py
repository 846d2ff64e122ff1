"""Streamlit pages, registered by app.py with st.navigation; each calls into planning.

The folder is not called `pages/`: Streamlit still serves a `pages/` folder next to the entry
script on its own (a fresh server's first deep link runs the page file directly, outside the
sign-in and menu of app.py), so the pages live where only st.navigation reaches them.
"""
