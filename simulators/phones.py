"""The simulated people's phone pages (/m/): a signed-in session each, made as an officer makes one (a
one-time sign-in link through the staff API, redeemed through the phone sign-in API), and the photo
a phone takes to answer a roll call.

Sessions are kept in a state file (mode 0600) next to the fleet's registration, so a restarted
simulator keeps its phones signed in instead of issuing everyone a new link."""

import asyncio
import json
from pathlib import Path

import httpx

from simulators.platform import CONCURRENCY, PlatformError, Portal, Registration


class PhoneSessions:
    """Each registered person's phone token (index = the fleet's person), made on first use."""

    def __init__(self, registration: Registration, tokens: list[str | None], state_file: Path | None):
        self.registration, self.tokens, self.state_file = registration, tokens, state_file

    @classmethod
    def load(cls, registration: Registration, state_file: Path | None) -> "PhoneSessions":
        tokens: list[str | None] = [None] * len(registration.supervisee_ids)
        if state_file is not None and state_file.exists():
            saved = json.loads(state_file.read_text())
            if saved.get("supervisee_ids") == registration.supervisee_ids:
                tokens = saved["tokens"]
        return cls(registration, tokens, state_file)

    def save(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(
            json.dumps({"supervisee_ids": self.registration.supervisee_ids, "tokens": self.tokens})
        )
        self.state_file.chmod(0o600)

    async def sign_in(self, portal: Portal, phone: httpx.AsyncClient, people: list[int] | None = None) -> None:
        """Give everyone in ``people`` (default: the whole fleet) without a session a new one."""
        wanted = [p for p in (range(len(self.tokens)) if people is None else people) if self.tokens[p] is None]
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(p: int) -> None:
            async with limit:
                self.tokens[p] = await redeem_new_link(portal, phone, self.registration.supervisee_ids[p])

        await asyncio.gather(*(one(p) for p in wanted))
        if wanted:
            self.save()

    def forget(self, person: int) -> None:
        """The platform refused this session (revoked, expired): the next ``sign_in`` makes a new one."""
        self.tokens[person] = None


async def redeem_new_link(portal: Portal, phone: httpx.AsyncClient, supervisee_id: int) -> str:
    """An officer's one-time sign-in code for the person, redeemed as their phone would: the session token."""
    link = await portal.call("POST", f"/supervisees/{supervisee_id}/phone-links")
    answer = await phone.post("/phone/sign-in", json={"code": link["code"]})
    if answer.status_code != 200:
        raise PlatformError(f"phone sign-in of supervisee {supervisee_id} answered {answer.status_code}: {answer.text}")
    return answer.json()["token"]


def phone_client(portal_url: str) -> httpx.AsyncClient:
    """A client for the phone API: no staff credentials, one pooled connection set for every phone."""
    return httpx.AsyncClient(
        base_url=portal_url.rstrip("/") + "/api/v1",
        timeout=30.0,
        limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
    )


def state_path(run_dir: Path, seed: int, size: int) -> Path:
    return run_dir / f"simulator-{seed}-{size}-phones.json"


# The photo: an 8x8 grey baseline JPEG, its shade the person's, encoded by hand (a flat block is one
# DC coefficient and an end-of-block) so the simulator needs no imaging library.
_QUANT_ONES = bytes([0xFF, 0xDB, 0x00, 0x43, 0x00]) + bytes([1] * 64)
_SOF_8X8_GREY = bytes([0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00])
_SOS = bytes([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00])
_AC_EOB_ONLY = bytes([0xFF, 0xC4, 0x00, 0x14, 0x10, 1] + [0] * 15 + [0x00])  # one code '0': end of block
_JFIF = bytes([0xFF, 0xE0, 0x00, 0x10]) + b"JFIF\x00" + bytes([1, 1, 0, 0, 1, 0, 1, 0, 0])


def photo(shade: int) -> bytes:
    """A valid 8x8 JPEG of one grey ``shade`` (0-255)."""
    dc = 8 * (max(0, min(255, shade)) - 128)  # a flat block's DC coefficient (level-shifted, quantised by 1)
    size = abs(dc).bit_length()
    bits = dc if dc >= 0 else (dc - 1) & ((1 << size) - 1)
    dc_table = bytes([0xFF, 0xC4, 0x00, 0x14, 0x00, 1] + [0] * 15 + [size])  # one code '0': this category
    stream = "0" + (format(bits, f"0{size}b") if size else "") + "0"  # DC code, its bits, AC end of block
    stream += "1" * (-len(stream) % 8)
    data = bytearray()
    for i in range(0, len(stream), 8):
        data.append(int(stream[i : i + 8], 2))
        if data[-1] == 0xFF:
            data.append(0x00)  # byte stuffing
    headers = _JFIF + _QUANT_ONES + _SOF_8X8_GREY + dc_table + _AC_EOB_ONLY + _SOS
    return b"\xff\xd8" + headers + bytes(data) + b"\xff\xd9"
