"""Service metrics with written definitions, dashboard, threshold alerts and periodic reports."""
