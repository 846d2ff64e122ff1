"""Streamlit pages, registered by app.py with st.navigation; each calls into planning."""
