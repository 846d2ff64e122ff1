"""RevPlan's domain core: store, demo data, import, and the planning capabilities built on them.

Nothing in this package imports Streamlit; the app, the command line and the tests call the
same functions.
"""
