"""Events of the thumbnails service (source "thumbnails")."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventData, EventModel
from shared.events.registry import register_event


class SourceObject(EventModel):
    """The uploaded object, pinned to the exact version that was processed."""

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    version_id: str | None = Field(default=None, description="S3 version id (versioned buckets)")
    etag: str = Field(min_length=1)
    size: int = Field(ge=0, description="bytes")


class ThumbnailOutput(EventModel):
    size: int = Field(ge=1, description="requested long side in px")
    key: str = Field(min_length=1, max_length=1024)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    format: Literal["JPEG", "PNG", "WEBP"]
    content_type: str
    bytes: int = Field(ge=1)


@register_event
class ThumbnailCreated(EventData):
    """Every configured size of an uploaded image was written to the thumbnails bucket."""

    detail_type: ClassVar[str] = "ThumbnailCreated"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = True  # user uploads: keys and pictures may identify people

    source: SourceObject
    thumbnails_bucket: str = Field(min_length=3, max_length=63)
    outputs: list[ThumbnailOutput] = Field(min_length=1)


@register_event
class ThumbnailRejected(EventData):
    """An upload will never get thumbnails (final: the same bytes are rejected the same way)."""

    detail_type: ClassVar[str] = "ThumbnailRejected"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = True

    source: SourceObject
    reason: Literal[
        "not_an_image", "format_not_allowed", "too_large_bytes", "too_many_pixels", "truncated", "corrupt", "not_found"
    ]
    message: str = Field(max_length=500)
