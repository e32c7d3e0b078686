"""One module per resource; each exposes `blueprint` (a flask_openapi3 APIBlueprint)."""
