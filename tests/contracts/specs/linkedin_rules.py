"""LinkedIn's documented rules for the requests Postgate makes, one place, each with the page it
comes from. LinkedIn publishes no machine-readable API description (no OpenAPI, no Rest.li IDL for
partners), so these are transcribed from Microsoft Learn; the checker (tests/contracts/linkedin.py)
applies them. Pages read in December 2026.
"""

from __future__ import annotations

import re

# -- sources ---------------------------------------------------------------------------------------
_LEARN = "https://learn.microsoft.com/en-us/linkedin"
VERSIONING = f"{_LEARN}/marketing/versioning"
MIGRATIONS = f"{_LEARN}/marketing/integrations/migrations"
PROTOCOL_VERSION = f"{_LEARN}/shared/api-guide/concepts/protocol-version"
URN_ENCODING = f"{_LEARN}/shared/api-guide/concepts/urns"
ERROR_HANDLING = f"{_LEARN}/shared/api-guide/concepts/error-handling"
POSTS_API = f"{_LEARN}/marketing/community-management/shares/posts-api"
POST_SCHEMA = f"{_LEARN}/marketing/community-management/shares/post-api-schema"
LITTLE_TEXT = f"{_LEARN}/marketing/community-management/shares/little-text-format"
IMAGES_API = f"{_LEARN}/marketing/community-management/shares/images-api"
VIDEOS_API = f"{_LEARN}/marketing/community-management/shares/videos-api"
SHARE_STATISTICS = f"{_LEARN}/marketing/community-management/organizations/share-statistics"
AUTHORIZATION_CODE_FLOW = f"{_LEARN}/shared/authentication/authorization-code-flow"
REFRESH_TOKENS = f"{_LEARN}/shared/authentication/programmatic-refresh-tokens"
USERINFO = f"{_LEARN}/consumer/integrations/self-serve/sign-in-with-linkedin-v2"

# -- headers of every versioned (/rest) call [VERSIONING, PROTOCOL_VERSION] ------------------------
VERSION_FORMAT = re.compile(r"^(\d{4})(\d{2})(\.\d{2})?$")  # YYYYMM, or YYYYMM.RR for a patch release
RESTLI_PROTOCOL = "2.0.0"
# "These API versions are supported and stable for a minimum of one year before sunset" [VERSIONING].
MIN_SUPPORT_MONTHS = 12
# Sunset dates LinkedIn has published [MIGRATIONS]; a version not listed is assumed to live its minimum year.
SUNSET_DATES = {"202510": "2026-10-15", "202511": "2026-11-16", "202601": "2027-01-15", "202602": "2027-02-15",
                "202603": "2027-03-16"}

# -- URNs ------------------------------------------------------------------------------------------
# URNs in a path, and inside Rest.li 2.0's List(...), are URL-encoded (urn%3Ali%3A...) [URN_ENCODING].
AUTHOR_URN = re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$")
ORGANIZATION_URN = re.compile(r"^urn:li:organization:\d+$")
POST_URN = re.compile(r"^urn:li:(share|ugcPost):\d+$")
IMAGE_URN = re.compile(r"^urn:li:image:[A-Za-z0-9_-]+$")
VIDEO_URN = re.compile(r"^urn:li:video:[A-Za-z0-9_-]+$")
DOCUMENT_URN = re.compile(r"^urn:li:document:[A-Za-z0-9_-]+$")

# -- Posts API [POSTS_API, POST_SCHEMA] ------------------------------------------------------------
POST_WRITABLE = {"author", "commentary", "visibility", "distribution", "content", "lifecycleState",
                 "isReshareDisabledByAuthor", "contentLandingPage", "contentCallToActionLabel", "adContext",
                 "container", "reshareContext"}
POST_REQUIRED = ("author", "commentary", "visibility", "distribution", "lifecycleState")
POST_READ_ONLY = {"id", "createdAt", "lastModifiedAt", "publishedAt", "lifecycleStateInfo", "isEditedByAuthor"}
VISIBILITY = {"PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"}  # MemberNetworkVisibility
LIFECYCLE_STATES = {"DRAFT", "PUBLISHED", "PUBLISH_REQUESTED", "PUBLISH_FAILED"}
LIFECYCLE_ON_CREATE = {"DRAFT", "PUBLISHED"}  # the other two are LinkedIn's own states
DISTRIBUTION_FIELDS = {"feedDistribution", "targetEntities", "thirdPartyDistributionChannels"}
FEED_DISTRIBUTION = {"MAIN_FEED", "NONE", "CONTAINER_ONLY"}
CONTENT_KINDS = {"media", "article", "multiImage", "poll", "celebration", "reference", "carousel"}  # one per post
MEDIA_FIELDS = {"id", "title", "altText"}
MEDIA_URNS = (IMAGE_URN, VIDEO_URN, DOCUMENT_URN)
COMMENTARY_MAX = 3000  # characters [LITTLE_TEXT]
# GET /rest/posts?q=author&author={URN}&sortBy=&start=&count= (find posts by author) [POSTS_API].
FIND_PARAMS = {"q", "author", "start", "count", "sortBy", "viewContext"}
FIND_SORTS = {"LAST_MODIFIED", "CREATED"}
FIND_VIEW_CONTEXTS = {"READER", "AUTHOR"}
FIND_MAX_COUNT = 100
# POST /rest/posts answers 201 with an empty body and the new post's URN in `x-restli-id` [POSTS_API].

# -- Images API [IMAGES_API] -----------------------------------------------------------------------
IMAGE_INIT_FIELDS = {"owner", "mediaLibraryMetadata"}
IMAGE_INIT_ANSWER = {"uploadUrlExpiresAt", "uploadUrl", "image"}
IMAGE_STATUS = {"WAITING_UPLOAD", "PROCESSING", "AVAILABLE", "PROCESSING_FAILED"}
IMAGE_FIELDS = {"id", "owner", "status", "downloadUrl", "downloadUrlExpiresAt", "mediaLibraryMetadata"}

# -- Videos API [VIDEOS_API] -----------------------------------------------------------------------
VIDEO_INIT_FIELDS = {"owner", "fileSizeBytes", "uploadCaptions", "uploadThumbnail", "purpose", "mediaLibraryMetadata"}
VIDEO_INIT_REQUIRED = ("owner", "fileSizeBytes", "uploadCaptions", "uploadThumbnail")
VIDEO_INIT_ANSWER = {"uploadUrlsExpireAt", "video", "uploadInstructions", "uploadToken", "captionsUploadUrl",
                     "thumbnailUploadUrl"}
UPLOAD_INSTRUCTION_FIELDS = {"uploadUrl", "firstByte", "lastByte"}
VIDEO_FINALIZE_FIELDS = {"video", "uploadToken", "uploadedPartIds"}  # all three required
VIDEO_STATUS = {"WAITING_UPLOAD", "PROCESSING", "AVAILABLE", "PROCESSING_FAILED"}
VIDEO_FIELDS = {"id", "owner", "status", "duration", "aspectRatioWidth", "aspectRatioHeight", "downloadUrl",
                "downloadUrlExpiresAt", "thumbnail", "captions", "processingFailureReason", "mediaLibraryMetadata"}
# Each part is PUT as application/octet-stream to its uploadUrl, used as given (no token: the URL is
# signed), and its answer's ETag header is what finalizeUpload lists. An image is PUT with the Bearer token.

# -- organizationalEntityShareStatistics [SHARE_STATISTICS] ---------------------------------------
SHARE_STATISTICS_PARAMS = {"q", "organizationalEntity", "shares", "ugcPosts", "timeIntervals"}
TOTAL_SHARE_STATISTICS = {"uniqueImpressionsCount", "shareCount", "shareMentionsCount", "engagement", "clickCount",
                          "likeCount", "impressionCount", "commentMentionsCount", "commentCount"}
SHARE_STATISTICS_ELEMENT = {"organizationalEntity", "share", "ugcPost", "totalShareStatistics", "timeRange"}

# -- OAuth 2.0 on www.linkedin.com [AUTHORIZATION_CODE_FLOW, REFRESH_TOKENS] ----------------------
AUTHORIZE_REQUIRED = ("response_type", "client_id", "redirect_uri", "scope")
AUTHORIZE_PARAMS = {"response_type", "client_id", "redirect_uri", "state", "scope"}
TOKEN_GRANTS = {
    "authorization_code": ("code", "client_id", "client_secret", "redirect_uri"),
    "refresh_token": ("refresh_token", "client_id", "client_secret"),
}
TOKEN_ANSWER = {"access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "scope", "id_token",
                "token_type"}
TOKEN_ERROR = {"error", "error_description"}

# -- OpenID Connect userinfo on api.linkedin.com/v2 (unversioned) [USERINFO] -----------------------
USERINFO_FIELDS = {"sub", "name", "given_name", "family_name", "picture", "locale", "email", "email_verified"}

# -- errors of the REST API: {status, serviceErrorCode, code, message} [ERROR_HANDLING] ------------
ERROR_FIELDS = {"status", "serviceErrorCode", "code", "message", "errorDetailType", "errorDetails"}
