"""Command-line tools and examples for people: end-of-day settlement, benchmarks, image builds."""
