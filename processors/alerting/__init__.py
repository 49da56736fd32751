"""Environment-monitoring alerts: AQI categories and the alert lifecycle."""
