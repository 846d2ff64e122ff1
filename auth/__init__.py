"""Identity and sign-in: the Streamlit session, the identity-provider settings and the demo
picker. The access policy itself (roles, users, `can`, scopes, membership) is
`planning.access`; this package may import it, never the reverse."""
