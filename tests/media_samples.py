"""Media a real browser can decode, built in pure Python (no ffmpeg or Pillow on the machine).

infra/local/sample_media.jpeg_bytes and tests.conftest.upload_video only have the right headers;
Chromium shows neither (naturalWidth 0, no metadata). The review-page browser tests need pictures
and a video that actually load, so:

- `playable_mp4()`: H.264 Constrained Baseline in MP4 (the format every platform and Debian's
  Chromium take). The first frame is an IDR frame of uncompressed I_PCM macroblocks, the rest are
  P frames that skip every macroblock (repeat the picture), so no real encoder is needed.
- `decodable_jpeg()`: a baseline JFIF whose 8x8 blocks each hold one flat colour (DC only).
"""

from __future__ import annotations

import struct

# ---------------------------------------------------------------------------------------------
# Bit writing shared by the H.264 and JPEG encoders.


class _Bits:
    def __init__(self) -> None:
        self._bits: list[int] = []

    def u(self, value: int, width: int) -> None:
        self._bits.extend((value >> (width - 1 - i)) & 1 for i in range(width))

    def ue(self, value: int) -> None:  # Exp-Golomb, H.264 7.2
        code = value + 1
        self.u(0, code.bit_length() - 1)
        self.u(code, code.bit_length())

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align(self, bit: int) -> None:
        while len(self._bits) % 8:
            self._bits.append(bit)

    def raw(self, data: bytes) -> None:  # only at a byte boundary
        assert len(self._bits) % 8 == 0
        for byte in data:
            self.u(byte, 8)

    def trailing(self) -> bytes:  # rbsp_trailing_bits: a stop bit, then zeros to the byte
        self._bits.append(1)
        self.align(0)
        return self.bytes()

    def bytes(self) -> bytes:
        out = bytearray()
        for i in range(0, len(self._bits), 8):
            out.append(int("".join(map(str, self._bits[i:i + 8])), 2))
        return bytes(out)


# ---------------------------------------------------------------------------------------------
# H.264 in MP4


def _nal(ref_idc: int, nal_type: int, rbsp: bytes) -> bytes:
    """NAL unit with emulation prevention (no 00 00 0x, x <= 3, inside the payload)."""
    out, zeros = bytearray([ref_idc << 5 | nal_type]), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _sps(mbs_wide: int, mbs_high: int) -> bytes:
    b = _Bits()
    b.u(66, 8)            # profile_idc: Baseline
    b.u(0b11000000, 8)    # constraint_set0/1: Constrained Baseline
    b.u(30, 8)            # level 3.0
    b.ue(0)               # seq_parameter_set_id
    b.ue(0)               # log2_max_frame_num_minus4: frame_num has 4 bits
    b.ue(2)               # pic_order_cnt_type 2: output order = decoding order
    b.ue(1)               # max_num_ref_frames
    b.u(0, 1)             # gaps_in_frame_num_value_allowed_flag
    b.ue(mbs_wide - 1)
    b.ue(mbs_high - 1)
    b.u(1, 1)             # frame_mbs_only_flag
    b.u(1, 1)             # direct_8x8_inference_flag
    b.u(0, 1)             # frame_cropping_flag
    b.u(0, 1)             # vui_parameters_present_flag
    return _nal(3, 7, b.trailing())


def _pps() -> bytes:
    b = _Bits()
    b.ue(0)               # pic_parameter_set_id
    b.ue(0)               # seq_parameter_set_id
    b.u(0, 1)             # entropy_coding_mode_flag: CAVLC
    b.u(0, 1)             # bottom_field_pic_order_in_frame_present_flag
    b.ue(0)               # num_slice_groups_minus1
    b.ue(0)               # num_ref_idx_l0_default_active_minus1
    b.ue(0)               # num_ref_idx_l1_default_active_minus1
    b.u(0, 1)             # weighted_pred_flag
    b.u(0, 2)             # weighted_bipred_idc
    b.se(0)               # pic_init_qp_minus26
    b.se(0)               # pic_init_qs_minus26
    b.se(0)               # chroma_qp_index_offset
    b.u(0, 1)             # deblocking_filter_control_present_flag
    b.u(0, 1)             # constrained_intra_pred_flag
    b.u(0, 1)             # redundant_pic_cnt_present_flag
    return _nal(3, 8, b.trailing())


def _idr_slice(mbs_wide: int, mbs_high: int) -> bytes:
    """One I slice of I_PCM macroblocks: a diagonal colour ramp, so a screenshot shows it."""
    b = _Bits()
    b.ue(0)               # first_mb_in_slice
    b.ue(7)               # slice_type: I (all slices of the picture)
    b.ue(0)               # pic_parameter_set_id
    b.u(0, 4)             # frame_num
    b.ue(0)               # idr_pic_id
    b.u(0, 1)             # no_output_of_prior_pics_flag
    b.u(0, 1)             # long_term_reference_flag
    b.se(0)               # slice_qp_delta
    for y in range(mbs_high):
        for x in range(mbs_wide):
            b.ue(25)      # mb_type I_PCM
            b.align(0)    # pcm_alignment_zero_bit
            luma = 40 + 170 * (x + y) // (mbs_wide + mbs_high)  # samples stay in 16..235, never 0
            b.raw(bytes([luma]) * 256 + bytes([90 + 80 * x // mbs_wide]) * 64 + bytes([170 - 60 * y // mbs_high]) * 64)
    return _nal(3, 5, b.trailing())


def _skip_slice(frame_num: int, mb_count: int) -> bytes:
    """A P slice that skips every macroblock: the previous picture again."""
    b = _Bits()
    b.ue(0)               # first_mb_in_slice
    b.ue(5)               # slice_type: P (all slices of the picture)
    b.ue(0)               # pic_parameter_set_id
    b.u(frame_num, 4)
    b.u(0, 1)             # num_ref_idx_active_override_flag
    b.u(0, 1)             # ref_pic_list_modification_flag_l0
    b.u(0, 1)             # adaptive_ref_pic_marking_mode_flag
    b.se(0)               # slice_qp_delta
    b.ue(mb_count)        # mb_skip_run
    return _nal(2, 1, b.trailing())


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def playable_mp4(width: int = 144, height: int = 256, frames: int = 10, fps: int = 10) -> bytes:
    """A `frames / fps` second H.264 MP4 (default 1 s, 144x256 portrait, about 57 KB), moov first
    so `preload="metadata"` needs only the first bytes. Width and height must be multiples of 16."""
    assert width % 16 == 0 and height % 16 == 0 and 1 <= frames <= 16
    mbs_wide, mbs_high = width // 16, height // 16
    sps, pps = _sps(mbs_wide, mbs_high), _pps()
    nals = [_idr_slice(mbs_wide, mbs_high)] + [_skip_slice(n, mbs_wide * mbs_high) for n in range(1, frames)]
    samples = [struct.pack(">I", len(nal)) + nal for nal in nals]  # avcC lengthSizeMinusOne = 3
    avcc = _box(b"avcC", bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]), struct.pack(">H", len(sps)), sps,
                bytes([1]), struct.pack(">H", len(pps)), pps)
    avc1 = _box(b"avc1", bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HHIIIH", width, height, 0x480000,
                                                                                 0x480000, 0, 1),
                bytes(32), struct.pack(">Hh", 0x18, -1), avcc)
    duration_ms = 1000 * frames // fps

    def moov(chunk_offset: int) -> bytes:
        stbl = _box(b"stbl",
                    _full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
                    _full_box(b"stts", 0, 0, struct.pack(">III", 1, frames, 1)),
                    _full_box(b"stss", 0, 0, struct.pack(">II", 1, 1)),
                    _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, frames, 1)),
                    _full_box(b"stsz", 0, 0, struct.pack(">II", 0, frames), *(struct.pack(">I", len(s)) for s in samples)),
                    _full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)))
        minf = _box(b"minf", _full_box(b"vmhd", 0, 1, bytes(8)),
                    _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1))), stbl)
        mdia = _box(b"mdia",
                    _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, fps, frames, 0x55C4, 0)),  # language "und"
                    _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\0"), minf)
        tkhd = _full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, duration_ms), bytes(8),
                         struct.pack(">hhhH", 0, 0, 0, 0), _MATRIX, struct.pack(">II", width << 16, height << 16))
        mvhd = _full_box(b"mvhd", 0, 0, struct.pack(">IIIIIH", 0, 0, 1000, duration_ms, 0x10000, 0x100), bytes(10),
                         _MATRIX, bytes(24), struct.pack(">I", 2))
        return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))

    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    data_offset = len(ftyp) + len(moov(0)) + 8  # the offset's own size does not change the moov's
    return ftyp + moov(data_offset) + _box(b"mdat", *samples)


# ---------------------------------------------------------------------------------------------
# JPEG

# Annex K.3 luminance DC table (categories 0..11), reused for all three components.
_DC_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
_DC_SYMBOLS = list(range(12))


def _huffman_codes(counts: list[int], symbols: list[int]) -> dict[int, tuple[int, int]]:
    """Canonical codes (JPEG Annex C): symbol -> (code, length)."""
    codes, code, k = {}, 0, 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            codes[symbols[k]] = (code, length)
            code, k = code + 1, k + 1
        code <<= 1
    return codes


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload


def decodable_jpeg(width: int = 1080, height: int = 1080) -> bytes:
    """A baseline YCbCr JPEG (4:4:4) of flat 8x8 blocks in a colour ramp: every AC coefficient is
    zero, so the AC table only needs end-of-block. Sizes must be multiples of 8."""
    assert width % 8 == 0 and height % 8 == 0
    dc_codes = _huffman_codes(_DC_COUNTS, _DC_SYMBOLS)
    bits, previous = _Bits(), [0, 0, 0]
    blocks_wide, blocks_high = width // 8, height // 8
    for by in range(blocks_high):
        for bx in range(blocks_wide):
            ramp = (bx + by) / (blocks_wide + blocks_high)
            samples = (60 + 150 * ramp, 160 - 60 * ramp, 100 + 60 * ramp)  # Y, Cb, Cr
            for component, sample in enumerate(samples):
                dc = round(8 * (sample - 128))  # DC of a flat block with an all-ones quantisation table
                diff, previous[component] = dc - previous[component], dc
                size = abs(diff).bit_length()
                code, length = dc_codes[size]
                bits.u(code, length)
                if size:
                    bits.u(diff if diff > 0 else diff + (1 << size) - 1, size)
                bits.u(0, 1)  # end of block: the one code (0) of the AC table
    bits.align(1)
    scan = bits.bytes().replace(b"\xff", b"\xff\x00")  # byte stuffing
    components = b"".join(bytes([c, 0x11, 0]) for c in (1, 2, 3))
    return b"".join([
        b"\xff\xd8",
        _segment(0xE0, b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
        _segment(0xDB, bytes([0]) + bytes([1]) * 64),
        _segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components),
        _segment(0xC4, bytes([0x00]) + bytes(_DC_COUNTS) + bytes(_DC_SYMBOLS)),
        _segment(0xC4, bytes([0x10, 1]) + bytes(15) + bytes([0])),
        _segment(0xDA, bytes([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0])),
        scan,
        b"\xff\xd9",
    ])


def timed_mp4(seconds: float, payload: int = 64 * 1024) -> bytes:
    """An MP4 whose movie header says it runs `seconds` (any length), then `payload` bytes of mdat:
    what a duration check reads, without real frames (playable_mp4 is at most 16 frames)."""
    mvhd = _full_box(b"mvhd", 0, 0, struct.pack(">IIIIIH", 0, 0, 1000, round(seconds * 1000), 0x10000, 0x100),
                     bytes(10), struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000), bytes(24),
                     struct.pack(">I", 2))
    return _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41") + _box(b"moov", mvhd) + \
        _box(b"mdat", bytes(payload))
