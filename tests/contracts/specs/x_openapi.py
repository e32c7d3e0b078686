"""The operations of X's OpenAPI document that Postgate uses, restated for the contract checker.

Source: X API v2 OpenAPI document, info.version 2.167, as served at https://api.x.com/2/openapi.json
and mirrored in https://github.com/xdevplatform/docs (file openapi.json, commit
287132819074964da9c1c410ba02df5a06c932d3, 2026-08-22; the field rename and the api.x.com problem
types first appear there in commit 67f875e6ee3de530b5615c4938b717dded732d24, 2026-08-07). Read on
2026-12-06. OpenAPI 3.0: `nullable` is restated as a JSON Schema type list.

Only what the checker needs is restated: each operation's parameters, request body, response and
the schemas they reference, without descriptions. Two choices are the checker's, not the document's:
- objects the sandbox answers with are closed (CLOSED below): a property the document does not
  declare there (e.g. edit_history_tweet_ids, retweet_count) is a problem, although the document
  leaves most objects open;
- the `*.fields` parameters Postgate never sends (user, media, poll, place) are declared by name
  with a loose schema.
"""

from __future__ import annotations

SOURCE = {
    "document": "X API v2 OpenAPI (https://api.x.com/2/openapi.json)",
    "repository": "https://github.com/xdevplatform/docs",
    "path": "openapi.json",
    "commit": "287132819074964da9c1c410ba02df5a06c932d3",
    "commit_date": "2026-08-22",
    "info.version": "2.167",
}

_ID = {"type": "string", "pattern": "^[0-9]{1,19}$"}
_STR = {"type": "string"}
_INT = {"type": "integer"}
_NULL_STR = {"type": ["string", "null"]}
_LOOSE_LIST = {"type": "array", "minItems": 1, "items": {"type": "string"}}  # enum not restated (never sent)

POST_FIELDS = ["article", "article_title", "attachments", "card_uri", "community_id", "context_annotations",
               "conversation_id", "created_at", "display_text_range", "edit_controls", "entities", "geo", "id", "lang",
               "matched_media_notes", "media_metadata", "non_public_metrics", "note_post", "note_request_suggestions",
               "organic_metrics", "paid_partnership", "possibly_sensitive", "promoted_metrics", "public_metrics",
               "reply_settings", "scopes", "source", "suggested_source_links", "suggested_source_links_with_counts",
               "text", "withheld"]
POST_EXPANSIONS = ["article.cover_media", "article.media_entities", "attachments.media_keys",
                   "attachments.media_source_tweet", "attachments.poll_ids", "author_id", "edit_history_post_ids",
                   "entities.mentions.username", "geo.place_id", "in_reply_to_user_id", "referenced_posts", "username"]
USER_EXPANSIONS = ["affiliation", "most_recent_post_id", "pinned_post_id"]

# components/parameters: PostFieldsParameter, PostExpansionsParameter, UserFieldsParameter, ... (style
# form, explode false: one comma-separated value)
_FIELD_PARAMS = {
    "post.fields": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "enum": POST_FIELDS}},
    "expansions": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "enum": POST_EXPANSIONS}},
    "user.fields": _LOOSE_LIST, "media.fields": _LOOSE_LIST, "poll.fields": _LOOSE_LIST, "place.fields": _LOOSE_LIST,
}

# Properties each schema declares (the checker closes these objects; see the module docstring).
_POST_PROPERTIES = ["article", "article_title", "attachments", "author_id", "card_uri", "community_id",
                    "context_annotations", "conversation_id", "created_at", "display_text_range", "edit_controls",
                    "edit_history_post_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang",
                    "matched_media_notes", "media_metadata", "non_public_metrics", "note_post",
                    "note_request_suggestions", "organic_metrics", "paid_partnership", "possibly_sensitive",
                    "promoted_metrics", "public_metrics", "referenced_posts", "reply_settings", "scopes", "source",
                    "suggested_source_links", "suggested_source_links_with_counts", "text", "username", "withheld"]
_USER_PROPERTIES = ["affiliation", "confirmed_email", "connection_status", "created_at", "description", "entities", "id",
                    "is_identity_verified", "location", "most_recent_post_id", "name", "parody", "pinned_post_id",
                    "profile_banner_url", "profile_image_url", "protected", "public_metrics", "receives_your_dm",
                    "subscribes_to_you", "subscription", "subscription_type", "url", "username", "verified",
                    "verified_followers_count", "verified_type", "withheld"]
_MEDIA_PROPERTIES = ["alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
                     "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width"]


def _object(properties: dict, declared: list[str] | None = None, required: list[str] | None = None) -> dict:
    """A closed object: `properties` restated in full, any other name in `declared` accepted as is."""
    props = {name: {} for name in declared or []}
    props.update(properties)
    out = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors() -> dict:
    return {"type": "array", "items": _ref("Problem")}


_PROBLEM_TYPE = "https://api.x.com/2/problems/"


def _problem(kind: str, required: list[str], extra: list[str]) -> dict:
    props = {"type": {"type": "string", "enum": [_PROBLEM_TYPE + kind]}, "title": _STR, "detail": _STR, "status": _INT}
    props.update({name: _STR for name in extra})
    return {"type": "object", "required": ["type", "title", "detail"] + required, "properties": props}


_URL_ENTITY = _object({"start": _INT, "end": _INT, "url": _NULL_STR, "expanded_url": _NULL_STR,
                       "display_url": _NULL_STR, "media_key": _NULL_STR, "status": {"type": ["integer", "null"]},
                       "title": _NULL_STR, "unwound_url": _NULL_STR, "images": {"type": ["array", "null"]}},
                      required=["start", "end"])

SCHEMAS: dict[str, dict] = {
    "Post": _object({
        "id": _ID, "text": _STR, "author_id": _STR, "created_at": {"type": "string", "format": "date-time"},
        "edit_history_post_ids": {"type": "array", "items": _STR},
        "attachments": _ref("PostAttachments"), "entities": _ref("PostEntities"),
        "public_metrics": _ref("PostPublicMetrics"),
    }, _POST_PROPERTIES),
    "PostAttachments": _object({"media_keys": {"type": ["array", "null"], "items": _STR},
                                "media_source_tweet_id": {"type": ["array", "null"], "items": _STR},
                                "poll_ids": {"type": ["array", "null"], "items": _STR}}),
    "PostEntities": _object({"urls": {"type": ["array", "null"], "items": _URL_ENTITY},
                             "cashtags": {"type": ["array", "null"]}, "hashtags": {"type": ["array", "null"]},
                             "mentions": {"type": ["array", "null"]}}),
    "PostPublicMetrics": _object({name: _INT for name in ("repost_count", "reply_count", "like_count", "quote_count",
                                                          "bookmark_count", "impression_count")},
                                 required=["repost_count", "reply_count", "like_count", "quote_count",
                                           "bookmark_count", "impression_count"]),
    "User": _object({"id": _STR, "name": _STR, "username": _STR}, _USER_PROPERTIES),
    "Media": _object({"media_key": _STR, "type": _STR}, _MEDIA_PROPERTIES),
    "Expansions": _object({"media": {"type": "array", "items": _ref("Media")},
                           "users": {"type": "array", "items": _ref("User")},
                           "posts": {"type": "array", "items": _ref("Post")},
                           "places": {"type": "array"}, "polls": {"type": "array"}, "topics": {"type": "array"}}),
    # Problem: oneOf these nine, told apart by `type` (discriminator)
    "Problem": {"oneOf": [_ref(n) for n in (
        "ResourceNotFoundProblem", "InvalidRequestProblem", "NotAuthorizedForResourceProblem",
        "NotAuthorizedForFieldProblem", "FieldUnauthorizedProblem", "FieldHydrationFailureProblem",
        "ResourceUnavailableProblem", "DisallowedResourceProblem", "InternalErrorProblem")]},
    "ResourceNotFoundProblem": _problem("resource-not-found", ["resource_type"],
                                        ["parameter", "resource_id", "resource_type", "value"]),
    "InvalidRequestProblem": _problem("invalid-request", [], ["parameter", "value"]),
    "NotAuthorizedForResourceProblem": _problem("not-authorized-for-resource", ["resource_type"],
                                                ["parameter", "resource_id", "resource_type", "section", "value"]),
    "NotAuthorizedForFieldProblem": _problem("not-authorized-for-field", ["field"],
                                             ["field", "parameter", "resource_id", "resource_type", "section", "value"]),
    "FieldUnauthorizedProblem": _problem("field-unauthorized", ["field"], ["field", "resource_type", "section"]),
    "FieldHydrationFailureProblem": _problem("field-hydration-failure", ["field"], ["field", "resource_type", "section"]),
    "ResourceUnavailableProblem": _problem("resource-unavailable", ["resource_type"], ["resource_id", "resource_type"]),
    "DisallowedResourceProblem": _problem("disallowed-resource", [], ["resource_id", "resource_type", "section"]),
    "InternalErrorProblem": _problem("internal-error", [], []),
    "Error": {"type": "object", "required": ["code", "message"], "properties": {"code": _INT, "message": _STR}},
    # request bodies (closed in the document itself: additionalProperties false)
    "CreatePostsRequest": {"type": "object", "additionalProperties": False, "properties": {
        "card_uri": _STR, "community_id": _ID, "direct_message_deep_link": _STR,
        "edit_options": {"type": "object", "additionalProperties": False, "required": ["previous_post_id"],
                         "properties": {"previous_post_id": _ID}},
        "for_super_followers_only": {"type": "boolean"},
        "geo": {"type": "object", "additionalProperties": False, "required": ["place_id"], "properties": {"place_id": _STR}},
        "made_with_ai": {"type": "boolean"},
        "media": {"type": "object", "additionalProperties": False, "required": ["media_ids"], "properties": {
            "call_to_actions": {}, "embeddable": {"type": "boolean"},
            "media_ids": {"type": "array", "minItems": 1, "maxItems": 4, "items": _ID},
            "preview_media_id": _ID, "tagged_user_ids": {"type": "array", "maxItems": 10, "items": _ID}, "title": _STR}},
        "nullcast": {"type": "boolean"}, "paid_partnership": {"type": "boolean"},
        "poll": {"type": "object", "additionalProperties": False, "required": ["options", "duration_minutes"], "properties": {
            "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 10080},
            "options": {"type": "array", "minItems": 2, "maxItems": 4, "items": {"type": "string", "minLength": 1, "maxLength": 25}},
            "reply_settings": {"type": "string", "enum": ["following", "mentionedUsers", "subscribers", "verified"]}}},
        "quote_tweet_id": _ID,
        "reply": {"type": "object", "additionalProperties": False, "required": ["in_reply_to_tweet_id"], "properties": {
            "auto_populate_reply_metadata": {"type": "boolean"},
            "exclude_reply_user_ids": {"type": "array", "items": _STR}, "in_reply_to_tweet_id": _ID}},
        "reply_settings": {"type": "string", "enum": ["following", "mentionedUsers", "subscribers", "verified"]},
        "share_with_followers": {"type": "boolean"}, "text": _STR}},
    "InitializeMediaUploadRequest": {"type": "object", "additionalProperties": False, "properties": {
        "additional_owners": {"type": "array", "items": _ID},
        "media_category": {"type": "string", "enum": ["amplify_video", "tweet_gif", "tweet_image", "tweet_video",
                                                      "dm_gif", "dm_image", "dm_video", "subtitles"]},
        "media_type": {"type": "string", "enum": ["video/mp4", "video/webm", "video/mp2t", "video/quicktime", "text/srt",
                                                  "text/vtt", "image/jpeg", "image/gif", "image/bmp", "image/png",
                                                  "image/webp", "image/pjpeg", "image/tiff", "model/gltf-binary",
                                                  "model/vnd.usdz+zip"]},
        "shared": {"type": "boolean"}, "total_bytes": {"type": "integer", "minimum": 0, "maximum": 17179869184}}},
    # media: a file part (multipart) or base64 (JSON); the checker puts a string in its place
    "AppendMediaUploadRequest": {"type": "object", "additionalProperties": False, "required": ["media", "segment_index"],
                                 "properties": {"media": _STR,
                                                "segment_index": {"type": "integer", "minimum": 0, "maximum": 999}}},
    # answers
    "GetPostsByIdsResponse": _object({"data": {"type": "array", "items": _ref("Post")}, "errors": _errors(),
                                      "includes": _ref("Expansions"),
                                      "meta": _object({"result_count": _INT})}),
    "GetPostsByIdResponse": _object({"data": _ref("Post"), "errors": _errors(), "includes": _ref("Expansions")}),
    "GetUsersPostsResponse": _object({"data": {"type": "array", "items": _ref("Post")}, "errors": _errors(),
                                      "includes": _ref("Expansions"),
                                      "meta": _object({"newest_id": _STR, "next_token": _STR, "oldest_id": _STR,
                                                       "previous_token": _STR, "result_count": _INT})}),
    "GetUsersMeResponse": _object({"data": _ref("User"), "errors": _errors(), "includes": _ref("Expansions")}),
    "CreatePostsResponse": _object({"data": _object({"id": _ID, "text": _STR,
                                                     "edit_history_post_ids": {"type": "array", "items": _STR}},
                                                    required=["id", "text"]),
                                    "errors": _errors()}),
    "InitializeMediaUploadResponse": _object({"data": _object({"id": _STR, "media_key": _STR, "expires_after_secs": _INT},
                                                              required=["id"]), "errors": _errors()}),
    "AppendMediaUploadResponse": _object({"data": _object({"expires_at": _INT}), "errors": _errors()}),
    "ProcessingInfo": {"type": "object", "additionalProperties": False,  # closed in the document itself
                       "properties": {"check_after_secs": _INT, "progress_percent": _INT, "state": _STR}},
    "MediaUploadData": _object({"id": _STR, "media_key": _STR, "expires_after_secs": _INT, "size": _INT,
                                "processing_info": _ref("ProcessingInfo"), "image": {"type": "object"},
                                "video": {"type": "object"}}, required=["id"]),
    "FinalizeMediaUploadResponse": _object({"data": _ref("MediaUploadData"), "errors": _errors()}),
    "GetMediaUploadStatusResponse": _object({"data": _ref("MediaUploadData"), "errors": _errors()}),
}

_SECURITY_USER = ("OAuth2UserToken", "UserToken")
_SECURITY_ANY = ("OAuth2UserToken", "UserToken", "BearerToken")

# operationId -> method, path template, path parameters, query parameters {name: (schema, required)},
# request body {content type: schema name} (None: none), required body, 2xx answers {status: schema name},
# security schemes.
OPERATIONS: dict[str, dict] = {
    "getPostsByIds": {
        "method": "GET", "path": "/2/tweets", "path_params": {},
        "query": {"ids": ({"type": "array", "minItems": 1, "maxItems": 100, "items": _ID}, True),
                  **{name: (schema, False) for name, schema in _FIELD_PARAMS.items()}},
        "body": None, "responses": {"200": "GetPostsByIdsResponse"}, "security": _SECURITY_ANY},
    "createPosts": {
        "method": "POST", "path": "/2/tweets", "path_params": {}, "query": {},
        "body": {"application/json": "CreatePostsRequest"}, "body_required": True,
        "responses": {"201": "CreatePostsResponse"}, "security": _SECURITY_USER},
    "getPostsById": {
        "method": "GET", "path": "/2/tweets/{id}", "path_params": {"id": _ID},
        "query": {name: (schema, False) for name, schema in _FIELD_PARAMS.items()},
        "body": None, "responses": {"200": "GetPostsByIdResponse"}, "security": _SECURITY_ANY},
    "getUsersPosts": {
        "method": "GET", "path": "/2/users/{id}/tweets", "path_params": {"id": _ID},
        "query": {"max_results": ({"type": "integer", "minimum": 5, "maximum": 100}, False),
                  "pagination_token": ({"type": "string", "minLength": 1}, False),
                  "start_time": ({"type": "string", "format": "date-time"}, False),
                  "end_time": ({"type": "string", "format": "date-time"}, False),
                  "since_id": (_ID, False), "until_id": (_ID, False),
                  "exclude": ({"type": "array", "minItems": 1, "uniqueItems": True,
                               "items": {"type": "string", "enum": ["replies", "retweets"]}}, False),
                  **{name: (schema, False) for name, schema in _FIELD_PARAMS.items()}},
        "body": None, "responses": {"200": "GetUsersPostsResponse"}, "security": _SECURITY_ANY},
    "getUsersMe": {
        "method": "GET", "path": "/2/users/me", "path_params": {},
        "query": {"user.fields": (_LOOSE_LIST, False),
                  "expansions": ({"type": "array", "minItems": 1, "uniqueItems": True,
                                  "items": {"type": "string", "enum": USER_EXPANSIONS}}, False),
                  "post.fields": (_FIELD_PARAMS["post.fields"], False)},
        "body": None, "responses": {"200": "GetUsersMeResponse"}, "security": _SECURITY_USER},
    "getMediaUploadStatus": {
        "method": "GET", "path": "/2/media/upload", "path_params": {},
        "query": {"media_id": (_ID, True), "command": ({"type": "string", "enum": ["STATUS"]}, False)},
        "body": None, "responses": {"200": "GetMediaUploadStatusResponse"}, "security": _SECURITY_USER},
    "initializeMediaUpload": {
        "method": "POST", "path": "/2/media/upload/initialize", "path_params": {}, "query": {},
        "body": {"application/json": "InitializeMediaUploadRequest"}, "body_required": True,
        "responses": {"200": "InitializeMediaUploadResponse"}, "security": _SECURITY_USER},
    "appendMediaUpload": {
        "method": "POST", "path": "/2/media/upload/{id}/append", "path_params": {"id": _ID}, "query": {},
        "body": {"application/json": "AppendMediaUploadRequest", "multipart/form-data": "AppendMediaUploadRequest"},
        "body_required": True, "responses": {"200": "AppendMediaUploadResponse"}, "security": _SECURITY_USER},
    "finalizeMediaUpload": {
        "method": "POST", "path": "/2/media/upload/{id}/finalize", "path_params": {"id": _ID}, "query": {},
        "body": None, "responses": {"200": "FinalizeMediaUploadResponse"}, "security": _SECURITY_USER},
}
# Paths of the document Postgate does not call: a request there is "not one of ours", still a problem.
# (The document's other POST on /2/media/upload is the retired command-style upload, mediaUpload.)
OTHER_OPERATIONS = {("POST", "/2/media/upload"): "mediaUpload", ("DELETE", "/2/tweets/{id}"): "deletePosts"}
