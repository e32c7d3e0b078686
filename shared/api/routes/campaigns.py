"""Campaigns (placeholder until the campaigns resource lands)."""

from flask_openapi3 import APIBlueprint, Tag

blueprint = APIBlueprint("campaigns", __name__, abp_tags=[Tag(name="campaigns")], abp_security=[{"bearer": []}])


@blueprint.get("/campaigns")
def list_campaigns():
    return {"items": [], "total": 0, "skip": 0, "limit": 50}
