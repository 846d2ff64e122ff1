"""Streamlit pages, registered by app.py with st.navigation; each reads inputs and calls planning."""
