"""REST handlers for attachments: the upload (a streamed raw body) and the downloads
(ranges, validators, and the headers that keep a hostile file from running as a page)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from hubbub.api.headers import API_CSP
from hubbub.api.http import Call
from hubbub.api.schemas import MediaOut
from hubbub.core.errors import bad_request
from hubbub.core.media import Unsatisfiable, content_disposition, parse_range
from hubbub.services.media import Download, Media

# every media answer: never sniffed into another type, never a page that runs scripts
# or reaches anything (api/headers.py adds nosniff and the API's CSP, `sandbox;
# default-src 'none'`, to every /v1/ answer; they are set here too so that they hold
# whatever wraps this), kept out of shared caches (it is one user's to see)
_SAFE_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": API_CSP,
    "cross-origin-resource-policy": "same-origin",
    "referrer-policy": "no-referrer",
    "accept-ranges": "bytes",
    # immutable: a media id's bytes never change; private: never in a shared cache
    "cache-control": "private, max-age=31536000, immutable",
}


class MediaApi:
    def __init__(self, media: Media) -> None:
        self.media = media

    async def upload(self, call: Call) -> MediaOut:
        request = call.request
        declared = request.headers.get("content-length")
        if declared is not None and not declared.isdigit():
            raise bad_request("Content-Length must be a number")
        uploaded = await self.media.upload(
            call.user_id,
            request.stream(),
            declared_size=int(declared) if declared is not None else None,
            claimed_type=request.headers.get("content-type"),
            filename=call.query("filename"),
        )
        a = uploaded.attachment
        thumbnail = f"/v1/media/{a.media_id}/thumbnail" if uploaded.has_thumbnail else None
        return MediaOut(
            a.media_id, a.sha256, a.size, a.content_type, a.filename, a.width, a.height,
            a.duration_ms, thumbnail,
        )  # fmt: skip

    async def download(self, call: Call) -> Response:
        found = await self.media.download(call.user_id, call.path_id("media_id"))
        return await self._serve(call, found)

    async def thumbnail(self, call: Call) -> Response:
        found = await self.media.download(call.user_id, call.path_id("media_id"), thumbnail=True)
        return await self._serve(call, found)

    async def _serve(self, call: Call, found: Download) -> Response:
        headers = dict(_SAFE_HEADERS)
        headers["etag"] = found.etag
        headers["content-disposition"] = content_disposition(
            found.content_type, found.record.filename
        )
        tags = _etags(call.request.headers.get("if-none-match"))
        if found.etag in tags or "*" in tags:
            return Response(status_code=304, headers=headers)
        asked = call.request.headers.get("range")
        if_range = call.request.headers.get("if-range")
        if if_range is not None and if_range.strip() != found.etag:
            asked = None  # the client's copy is another version: send it all
        try:
            wanted = parse_range(asked, found.size)
        except Unsatisfiable:
            headers["content-range"] = f"bytes */{found.size}"
            return Response(status_code=416, headers=headers)
        if wanted is None:
            start, end, status = 0, found.size - 1, 200
        else:
            start, end, status = wanted.start, wanted.end, 206
            headers["content-range"] = f"bytes {start}-{end}/{found.size}"
        headers["content-length"] = str(end - start + 1)
        body: AsyncIterator[bytes] = _nothing()
        if end >= start:  # the first chunk before the answer: a failure is still an error
            body = await self.media.open(found, start, end)
        return StreamingResponse(
            body, status_code=status, headers=headers, media_type=found.content_type
        )


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""
