"""`make smoke PROJECT=... REGION=...`: a post-deploy smoke check of the deployed functions that publishes nothing.

One PASS/FAIL line per step, then a summary; exit 1 on any FAIL. The steps:
  1. health of every HTTP function in infra/topology.yaml (api GET /health; approval-http GET / answers the
     review page's shell; generate-http GET is refused with 405, which only a running function answers);
  2. the API and link keys can be read from the secret store, and an approver's API token is minted with the first;
  3. a dry-run account is created through the API (POST /accounts with dry_run: true, never connected: it has
     no tokens either) and a post of the team's own copy targets it (POST /posts);
  4. the approval is read (GET /contents/{id}/approvals) and decided by walking a signed approve link as a
     browser does (shell page, POST step=review, POST approve) on approval-http;
  5. the publisher runs and stops before any platform call: the post ends `cancelled` with the dry-run reason;
  6. the post and the account are deleted (also after a failure, so a failed run leaves nothing behind).

URLs default to https://REGION-PROJECT.cloudfunctions.net/<name> (Terraform's approval_url); `--url name=URL`
overrides one, e.g. to run against the local stack. Functions not public in the topology get a Google
identity token (`--identity-token`); the local stack needs none.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from infra.forms import page_forms
from shared.errors import ConfigError

IDENTITY_TOKEN_SOURCES = ("auto", "google", "gcloud", "none")
DEFAULT_APPROVER = "postgate-smoke-check"
REQUEST_TIMEOUT_SECONDS = 60  # a cold start of a 1 GiB function takes a while


def _session() -> requests.Session:
    """A session that sends an idempotent request again when a kept-alive connection was dropped under it.

    A server closes an idle kept-alive connection when it likes (gunicorn locally after 2 s, the smoke's own poll
    interval); a request that went out on it just then fails with RemoteDisconnected though the function is well.
    Only GET/HEAD/OPTIONS/DELETE are sent again: a POST may have been acted on, and the smoke must not make two.
    """
    session = requests.Session()
    retry = Retry(total=2, connect=2, read=2, status=0, redirect=0, backoff_factor=0.2,
                  allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "DELETE"}), raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class StepResult:
    name: str
    outcome: str  # PASS | FAIL | SKIP
    detail: str

    def line(self) -> str:
        return f"{self.outcome:<4}  {self.name:<34} {self.detail}".rstrip()


class StepFailed(Exception):
    """A step's check did not hold; the message says what was seen."""


# -- where the functions are, and how to call them -------------------------------------------------

def http_functions() -> dict[str, bool]:
    """Every HTTP-triggered function of the topology -> whether it is public (callable without IAM)."""
    from shared.topology import get_topology

    return {name: bool(fn.trigger.public) for name, fn in get_topology().functions.items() if fn.trigger.type == "http"}


def default_url(project: str, region: str, name: str) -> str:
    return f"https://{region}-{project}.cloudfunctions.net/{name}"


def function_urls(project: str | None, region: str | None, overrides: dict[str, str]) -> dict[str, str]:
    urls = {}
    for name in http_functions():
        if name in overrides:
            urls[name] = overrides[name].rstrip("/")
        elif project and region:
            urls[name] = default_url(project, region, name)
        else:
            raise ValueError(f"no URL for {name}: give --project and --region, or --url {name}=URL")
    unknown = sorted(set(overrides) - set(urls))
    if unknown:
        raise ValueError(f"--url names no HTTP function of the topology: {', '.join(unknown)}")
    return urls


def identity_token_source(kind: str) -> Callable[[str], str] | None:
    """audience -> a Google identity token for calling a function behind IAM invoker; None: send none.
    `google`: google.oauth2.id_token (service account keys, the metadata server); `gcloud`: the signed-in
    gcloud identity (`gcloud auth print-identity-token`); `auto`: the first, else the second."""
    if kind == "none":
        return None
    cache: dict[str, str] = {}

    def from_google(audience: str) -> str:
        import google.auth.transport.requests
        import google.oauth2.id_token

        return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)

    def from_gcloud(audience: str) -> str:
        done = subprocess.run(["gcloud", "auth", "print-identity-token"], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise StepFailed(f"gcloud auth print-identity-token failed: {done.stderr.strip()[:200]}")
        return done.stdout.strip()

    def fetch(audience: str) -> str:
        if audience not in cache:
            if kind == "google":
                cache[audience] = from_google(audience)
            elif kind == "gcloud":
                cache[audience] = from_gcloud(audience)
            else:
                try:
                    cache[audience] = from_google(audience)
                except Exception:  # noqa: BLE001 - no service account credentials here: a person's gcloud
                    cache[audience] = from_gcloud(audience)
        return cache[audience]

    return fetch


def secret_store(project: str | None, secrets_file: str | None):
    """The store the functions read: a file (local stack), the environment, or Secret Manager."""
    from shared.stores.secrets import operator_secret_store

    return operator_secret_store(project, secrets_file)


# -- the check ------------------------------------------------------------------------------------

class SmokeCheck:
    def __init__(self, urls: dict[str, str], *, secrets, identity_token: Callable[[str], str] | None = None,
                 public: dict[str, bool] | None = None, platform: str = "x", approver: str = DEFAULT_APPROVER,
                 api_audience: str | None = None, settle_timeout: float = 180.0, poll_interval: float = 2.0,
                 out: Callable[[str], None] = print):
        self.urls = urls
        self.secrets = secrets
        self.identity_token = identity_token
        self.public = public if public is not None else http_functions()
        self.platform = platform  # x by default: the smoke post is text only, which X takes without media
        self.approver = approver
        self.api_audience = api_audience or os.environ.get("POSTGATE_API_AUDIENCE") or "postgate-api"
        self.settle_timeout = settle_timeout
        self.poll_interval = poll_interval
        self.out = out
        self.results: list[StepResult] = []
        self.http = _session()
        run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.account_id = f"smoke-dry-run-{run_id}"
        self.caption = f"Postgate smoke check {run_id}: a dry run, never published."
        self.api_token: str | None = None
        self.signing_key: str | None = None
        self.content: dict | None = None
        self.post_id: str | None = None
        self.account_created = False
        self.review_form: dict | None = None

    # -- plumbing --------------------------------------------------------------------------------
    def step(self, name: str, check: Callable[[], str], *, needs: bool = True,
             skipped: str = "an earlier step failed") -> bool:
        if not needs:
            result = StepResult(name, "SKIP", skipped)
        else:
            try:
                result = StepResult(name, "PASS", check() or "")
            except StepFailed as exc:
                result = StepResult(name, "FAIL", str(exc))
            except Exception as exc:  # noqa: BLE001 - network, credentials, bad answers: all a FAIL of this step
                result = StepResult(name, "FAIL", f"{type(exc).__name__}: {str(exc)[:300]}")
        self.results.append(result)
        self.out(result.line())
        return result.outcome == "PASS"

    def call(self, function: str, method: str, path: str = "/", *, api: bool = False, **kwargs) -> requests.Response:
        """One request to a function: its IAM identity token if it is not public, the API token for the api."""
        headers = dict(kwargs.pop("headers", {}))
        if api:
            headers["Authorization"] = f"Bearer {self.api_token}"
        if not self.public.get(function, False) and self.identity_token is not None:
            # Cloud Run takes the IAM token here when Authorization carries the app's own (the api's) token.
            header = "X-Serverless-Authorization" if "Authorization" in headers else "Authorization"
            headers[header] = f"Bearer {self.identity_token(self.urls[function])}"
        url = self.urls[function] + path
        for _ in range(3):
            response = self.http.request(method, url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, **kwargs)
            if response.status_code != 429:
                return response
            time.sleep(min(float(response.headers.get("Retry-After") or 5), 30))  # the API's per-user rate limit
        return response

    @staticmethod
    def expect(response: requests.Response, status: int | set[int], what: str) -> requests.Response:
        allowed = {status} if isinstance(status, int) else status
        if response.status_code not in allowed:
            raise StepFailed(f"{what}: HTTP {response.status_code} (expected {'/'.join(map(str, sorted(allowed)))}): "
                             f"{response.text[:200]!r}")
        return response

    # -- steps -----------------------------------------------------------------------------------
    def run(self) -> int:
        for name in self.urls:
            self.step(f"health: {name}", lambda name=name: self.health(name))
        healthy = all(r.outcome == "PASS" for r in self.results)
        keys = self.step("secrets: API and link keys", self.read_keys, needs=healthy)
        account = self.step("dry-run account created", self.create_account, needs=keys)
        post = self.step("post created for it", self.create_post, needs=account)
        pending = self.step("approval read", self.read_approval, needs=post)
        token = self.signed_link() if pending else None
        shell = self.step("link: shell page", lambda: self.link_shell(token), needs=pending)
        review = self.step("link: review page", lambda: self.link_review(token), needs=shell)
        approved = self.step("link: approve", self.link_approve, needs=review)
        self.step("publisher stopped before platform", self.wait_dry_run_stop, needs=approved)
        self.step("cleanup: post deleted", self.delete_post, needs=self.post_id is not None, skipped="no post was created")
        self.step("cleanup: account deleted", self.delete_account, needs=self.account_created,
                  skipped="no account was created")
        failed = [r for r in self.results if r.outcome == "FAIL"]
        passed = sum(r.outcome == "PASS" for r in self.results)
        skipped = sum(r.outcome == "SKIP" for r in self.results)
        self.out(f"smoke: {passed} passed, {len(failed)} failed, {skipped} skipped"
                 + (f"; first failure: {failed[0].name}" if failed else ""))
        return 1 if failed else 0

    def health(self, name: str) -> str:
        if name == "api":
            response = self.expect(self.call(name, "GET", "/health"), 200, "GET /health")
            if response.json() != {"ok": True}:
                raise StepFailed(f"GET /health answered {response.text[:200]!r}")
            return "GET /health -> 200 {\"ok\": true}"
        if name == "approval-http":
            response = self.expect(self.call(name, "GET", "/"), 200, "GET /")
            if "<form" not in response.text and "<script" not in response.text:
                raise StepFailed("GET / answered 200 without the review page's shell")
            return "GET / -> 200 review page shell"
        if name == "generate-http":
            self.expect(self.call(name, "GET", "/"), 405, "GET / (a brief must be POSTed)")
            return "GET / -> 405 (refused cleanly: the function runs, nothing generated)"
        # A function added to the topology later: any answer but an error, a refusal of our identity or a 404.
        response = self.call(name, "GET", "/")
        if response.status_code >= 500 or response.status_code in (401, 403, 404):
            raise StepFailed(f"GET / -> HTTP {response.status_code}")
        return f"GET / -> {response.status_code}"

    def read_keys(self) -> str:
        from shared.api.auth import issue_api_token

        api_key = self.secrets.access(os.environ.get("POSTGATE_API_JWT_SECRET") or "api-jwt-key")
        self.signing_key = self.secrets.access(os.environ.get("POSTGATE_APPROVAL_SIGNING_SECRET") or "approval-signing-key")
        self.api_token = issue_api_token(api_key, self.approver, ["approver"], audience=self.api_audience, ttl_seconds=900)
        return f"API token minted for {self.approver} (approver, 15 min)"

    def create_account(self) -> str:
        body = {"id": self.account_id, "platform": self.platform, "handle": "postgate-smoke-check", "dry_run": True}
        response = self.call("api", "POST", "/accounts", api=True, json=body)
        if response.status_code == 201:
            self.account_created = True
        self.expect(response, 201, "POST /accounts")
        if response.json().get("dry_run") is not True:
            raise StepFailed("the api did not record dry_run: true (an older api?); nothing will be approved")
        return f"{self.platform} account {self.account_id} (dry_run, never connected)"

    def create_post(self) -> str:
        body = {"campaign": "smoke-check", "caption": self.caption, "targets": [{"account_id": self.account_id}]}
        response = self.expect(self.call("api", "POST", "/posts", api=True, json=body), 201, "POST /posts")
        self.content = response.json()
        posts = self.content.get("posts") or []
        if len(posts) != 1:
            raise StepFailed(f"expected one post, got {len(posts)}")
        self.post_id = posts[0]["id"]
        return f"content {self.content['id']}, post {self.post_id}: {posts[0]['status']}"

    def read_approval(self) -> str:
        response = self.expect(self.call("api", "GET", f"/contents/{self.content['id']}/approvals", api=True), 200,
                               "GET /contents/{id}/approvals")
        approvals = response.json()
        if approvals["status"] != "pending_approval" or approvals["content_hash"] != self.content["content_hash"]:
            raise StepFailed(f"expected pending_approval of {self.content['content_hash'][:12]}, got "
                             f"{approvals['status']} of {approvals['content_hash'][:12]}")
        return f"pending_approval, version {approvals['version']}, hash {approvals['content_hash'][:12]}"

    def signed_link(self) -> str:
        """An approve link for exactly this version, as approval-notify would send it (15 minutes)."""
        from shared.approval.tokens import issue_token

        token, _ = issue_token(self.signing_key, content_id=self.content["id"], content_hash=self.content["content_hash"],
                               action="approve", expires_at=datetime.now(UTC) + timedelta(minutes=15),
                               recipient=self.approver)
        return token

    def link_shell(self, token: str) -> str:
        # The link is <approval url>/#token=...: a browser never sends the fragment, only GETs the shell.
        response = self.expect(self.call("approval-http", "GET", "/"), 200, "GET the link")
        if token in response.text:
            raise StepFailed("the shell page contains the token")
        return "GET link -> 200 (the token stays in the #fragment)"

    def link_review(self, token: str) -> str:
        response = self.expect(self.call("approval-http", "POST", "/", data={"step": "review", "token": token, "tz": "UTC"}),
                               200, "POST step=review")
        self.review_form = next((f for f in page_forms(response.text) if f.get("action") == "approve"), None)
        if self.review_form is None:
            raise StepFailed("the review page has no Approve form")
        if self.caption not in response.text:
            raise StepFailed("the review page does not show the post's caption")
        return "POST step=review -> 200, caption and Approve form shown"

    def link_approve(self) -> str:
        """Press Approve: POST the review page's form as the browser would."""
        self.expect(self.call("approval-http", "POST", "/", data=self.review_form), 200, "POST approve")
        response = self.expect(self.call("api", "GET", f"/contents/{self.content['id']}/approvals", api=True), 200,
                               "GET /contents/{id}/approvals")
        current = response.json().get("current") or {}
        if response.json()["status"] != "approved" or current.get("decided_by") != self.approver:
            raise StepFailed(f"after approving: status {response.json()['status']}, decided by {current.get('decided_by')}")
        return f"POST approve -> 200; content approved by {self.approver}"

    def wait_dry_run_stop(self) -> str:
        from shared.model.state_machine import TERMINAL
        from shared.publishing.publisher import DRY_RUN_REASON

        deadline = time.monotonic() + self.settle_timeout
        seen = []
        while True:
            post = self.expect(self.call("api", "GET", f"/posts/{self.post_id}", api=True), 200, "GET /posts/{id}").json()
            if not seen or seen[-1] != post["status"]:
                seen.append(post["status"])
            if post["status"] in TERMINAL or time.monotonic() > deadline:
                break
            time.sleep(self.poll_interval)
        reason = (post.get("history") or [{}])[-1].get("reason")
        if post["status"] != "cancelled" or reason != DRY_RUN_REASON:
            waited = "" if post["status"] in TERMINAL else f" after {self.settle_timeout:.0f} s"
            raise StepFailed(f"post {post['status']}{waited} (reason {reason!r}; seen {' -> '.join(seen)}); "
                             f"expected cancelled with {DRY_RUN_REASON!r}")
        if post.get("platform_ids") or post.get("attempt_count"):
            raise StepFailed(f"the post was claimed: attempts {post.get('attempt_count')}, ids {post.get('platform_ids')}")
        return f"{' -> '.join(seen)}: {reason!r}"

    def delete_post(self) -> str:
        response = self.expect(self.call("api", "DELETE", f"/posts/{self.post_id}", api=True), {204, 404},
                               "DELETE /posts/{id}")
        return f"post {self.post_id}: HTTP {response.status_code}"

    def delete_account(self) -> str:
        # force: should a post still wait (a failed run), it is cancelled rather than left for a publisher.
        response = self.expect(self.call("api", "DELETE", f"/accounts/{self.account_id}", api=True,
                                         params={"force": "true"}), 204, "DELETE /accounts/{id}")
        return f"account {self.account_id}: HTTP {response.status_code}"


# -- CLI --------------------------------------------------------------------------------------------

def _url_arg(value: str) -> tuple[str, str]:
    name, sep, url = value.partition("=")
    if not sep or not name or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected name=http(s)://..., got {value!r}")
    return name, url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default=os.environ.get("PROJECT") or None, help="GCP project id")
    parser.add_argument("--region", default=os.environ.get("REGION") or None, help="the functions' region")
    parser.add_argument("--url", action="append", type=_url_arg, default=[], metavar="NAME=URL",
                        help="a function's URL instead of https://REGION-PROJECT.cloudfunctions.net/NAME (repeatable)")
    parser.add_argument("--identity-token", choices=IDENTITY_TOKEN_SOURCES, default="auto",
                        help="how to get the Google identity token for functions behind IAM (default auto)")
    parser.add_argument("--secrets-file", help="a JSON secrets file (the local stack's) instead of Secret Manager")
    parser.add_argument("--approver", default=DEFAULT_APPROVER, help="who the API token and the link name")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the publisher (default 180)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        urls = function_urls(args.project, args.region, dict(args.url))
        store = secret_store(args.project, args.secrets_file)
    except (ValueError, ConfigError) as exc:
        print(f"smoke: {exc}", file=sys.stderr)
        return 2
    check = SmokeCheck(urls, secrets=store, identity_token=identity_token_source(args.identity_token),
                       approver=args.approver, settle_timeout=args.timeout,
                       out=lambda line: print(line, flush=True))
    return check.run()


if __name__ == "__main__":
    sys.exit(main())
