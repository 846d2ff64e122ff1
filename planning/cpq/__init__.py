"""Configure, price, quote: a versioned product catalog with configuration rules, validation
that names every broken rule with its fix, the smallest change that makes a configuration
valid, and the cheapest (or best-fitting) valid configuration for stated requirements."""
