"""Territory design: balanced, compact territories with little disruption."""
