"""Models and lists the business acts on: churn early warning, segments, propensity, offers, target lists."""
