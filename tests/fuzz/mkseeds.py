#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/: one input per path the
harnesses aim at, spelled out in each harness's input format, so a short
run starts where a blind fuzzer would take hours to get (RACK's reordering
timer, recovery and its exit, a move to the other stack, closed_input, a
whole reassembly). The rest of the committed corpus is what libFuzzer's
-merge=1 kept of long runs. Usage: tests/fuzz/mkseeds.py [DIR]"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def u8(*v):
    return bytes(x & 0xFF for x in v)


def u16(v):
    return struct.pack(">H", v & 0xFFFF)


def u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def delay(ns):
    """fz_delay's encoding of at least ns: (m + 1) << e."""
    for e in range(28):
        m = -(-ns // (1 << e)) - 1
        if m <= 255:
            return u8(e, max(m, 0))
    return u8(27, 255)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- fuzz_tcp_conn --------------------------------------------------------
# opcodes (OP_*)
SEG, ACK, ADVANCE, NEXT, SEND, RECV, SHUTDOWN, CLOSE, MOVE, SETOPT, ICMP, ACCEPT, RAWSEG, QUERY = range(14)
O_ALL = 1 | 2 | 4 | 8  # MSS WS SACK-permitted TS


CLOSE_ON_ERR = 0x10


def conn_header(passive=False, opts=O_ALL, nodelay=True, sndbuf=0, rcvbuf=0, win=65535, rtt=3,
                handshake=True):
    """rtt: the handshake's round trip in quarter milliseconds, less one;
    without handshake the fuzzer's segments answer the first SYN."""
    mode = (1 if passive else 0) | (sndbuf << 1) | (rcvbuf << 3) | (0x40 if nodelay else 0) | \
        (0 if handshake else 0x20)
    return u8(mode, opts) + u16(win) + u8(rtt) + u8(7) + u16(1460) + u32(1000) + u32(5000)


def c_send(n, more=False):
    return u8(SEND) + u16(n) + u8(1 if more else 0)


def c_ack(ack_base=1, ack_delta=0, sacks=(), win=65535, seg=0):
    """A pure ACK: ack_base 0 = everything sent, 1 = the peer's last ACK,
    2 = the end of segment seg; sacks are (a, b) pairs of segment indexes,
    0 the most recent."""
    k = ack_base << 3
    o = len(sacks) << 2
    body = u8(k, 0, ack_delta) + (u8(seg) if ack_base == 2 else b"") + \
        u8(0x10) + u16(win) + u8(o)
    for a, b in sacks:
        body += u8(a, b)
    return u8(ACK) + body


def c_data(length_class=2, flags=0x18):
    """In-order data from the peer: seq at the stack's ACK, ack unchanged."""
    k = (1 << 3) | (length_class << 5)
    return u8(SEG) + u8(k, 0, 0) + u8(flags) + u16(65535) + u8(0)


def c_seg(seq_base, ack_base, length_class, flags):
    """seq_base 0 = the stack's ACK, 1 = the peer's next; ack_base 0 = all
    the stack sent, 1 = the peer's last ACK; flags with 0xc0 drop ACK."""
    k = seq_base | (ack_base << 3) | (length_class << 5)
    return u8(SEG) + u8(k, 0, 0) + u8(flags) + u16(65535) + u8(0)


def c_adv(ns):
    return u8(ADVANCE) + delay(ns)


MS = 1000000


def tcp_conn_seeds():
    h = conn_header()
    # RACK: the tail SACKed 10 ms later, the rest waits for the reordering
    # timer, which marks it lost: recovery, resends, then an ACK of all
    # ends recovery.
    rack = h + c_send(14000) + c_adv(MS) + c_ack(1, 0, [(0, 0)]) + \
        c_adv(MS) + c_ack(2, 0, [(0, 0)], seg=3) + c_adv(MS) + c_ack(0) + c_adv(MS) + \
        c_send(20000) + c_adv(MS) + c_ack(0) + u8(NEXT, 7)
    write("tcp_conn", "rack-reo-recovery", rack)
    # Three SACKed segments at once: loss by RACK without the timer,
    # recovery, a partial ACK, then the rest.
    rec = h + c_send(14000) + c_adv(MS) + c_ack(0) + c_send(14000) + c_adv(MS) + \
        c_ack(1, 0, [(0, 3)]) + c_adv(MS) + c_ack(2, 0, [(0, 3)], seg=5) + c_adv(MS) + c_ack(0)
    write("tcp_conn", "sack-recovery-exit", rec)
    # RTO: nothing acknowledged, the timer backs off, then an ACK.
    rto = h + c_send(3000) + u8(NEXT, 3) + c_ack(0) + c_adv(MS)
    write("tcp_conn", "rto", rto)
    # Move to the second stack with data in flight, acknowledged there,
    # data received there, moved back, closed: FIN_WAIT, TIME_WAIT.
    mv = h + c_send(3000) + u8(MOVE) + c_adv(5 * MS) + c_ack(0) + c_data(2) + \
        u8(RECV) + u16(4000) + u8(0) + u8(MOVE) + c_send(100) + c_adv(MS) + c_ack(0) + \
        u8(CLOSE, 0) + c_ack(0) + c_data(0, 0x11) + u8(NEXT, 7)
    write("tcp_conn", "move", mv)
    # Passive open, data both ways, the peer closes first, then we do.
    p = conn_header(passive=True) + c_data(3) + u8(RECV) + u16(2000) + u8(1) + \
        u8(RECV) + u16(2000) + u8(0) + c_send(500) + c_adv(MS) + c_ack(0) + \
        c_data(0, 0x11) + u8(SHUTDOWN, 1) + c_ack(0) + u8(NEXT, 3) + u8(CLOSE, 0)
    write("tcp_conn", "passive-close", p)
    # A small receive buffer filled to its window edge, one byte past it,
    # then out of order beyond a hole; the application reads in between.
    k_edge = (1 << 3) | (4 << 5)  # seq at the stack's ACK, len to the edge
    w = conn_header(rcvbuf=1, opts=O_ALL) + u8(SEG) + u8(k_edge, 0, 0) + u8(0x10) + u16(65535) + u8(0) + \
        u8(SEG) + u8(k_edge | 2, 1, 0) + u8(0x10) + u16(65535) + u8(0) + \
        u8(RECV) + u16(1000) + u8(0) + u8(SEG) + u8((1 << 3) | (2 << 5) | 4, 2, 0) + \
        u8(0x10) + u16(65535) + u8(0) + c_data(2) + u8(RECV) + u16(9000) + u8(0) + u8(NEXT, 2)
    write("tcp_conn", "window-edge", w)
    # Zero window from the peer: persist probes, then it opens.
    z = h + c_send(5000) + c_ack(0, 0, (), win=0) + u8(NEXT, 4) + c_ack(0) + c_adv(MS)
    write("tcp_conn", "zero-window", z)
    # Keepalive on an idle connection, then the peer vanishes.
    ka = h + u8(SETOPT, 1, 1) + u8(SETOPT, 2, 3) + u8(SETOPT, 4, 1) + u8(NEXT, 7) + u8(NEXT, 7)
    write("tcp_conn", "keepalive", ka)
    # No handshake: the SYN refused by a RST, a simultaneous open, a reset
    # SYN-RECEIVED; a program that closes from its error callback.
    write("tcp_conn", "syn-sent-rst", conn_header(handshake=False) + c_seg(1, 0, 0, 0x14))
    write("tcp_conn", "simultaneous-open", conn_header(handshake=False) + c_seg(1, 0, 0, 0xC2) +
          c_seg(1, 0, 0, 0x10) + c_send(100) + c_ack(0))
    write("tcp_conn", "passive-no-ack-rst", conn_header(passive=True, handshake=False) +
          c_seg(1, 0, 0, 0x04) + u8(NEXT, 7) * 3)
    write("tcp_conn", "close-on-err", conn_header(opts=O_ALL | CLOSE_ON_ERR) + c_send(2000) +
          c_data(2) + c_seg(0, 0, 0, 0x14) + u8(NEXT, 3))
    # Out of buffers for one operation, then a port that takes nothing.
    write("tcp_conn", "starve", h + u8(14, 0) + c_send(8000) + u8(14, 1) + c_adv(300 * MS) +
          c_ack(0) + u8(14, 0) + u8(NEXT, 3) + c_ack(0))
    # ICMP "fragmentation needed" quoting a segment in flight.
    ic = h + c_send(3000) + u8(ICMP, 4) + u16(576) + u8(0, 0) + u8(NEXT, 2) + c_ack(0)
    write("tcp_conn", "icmp-needfrag", ic)


# ---- fuzz_stack_frames ------------------------------------------------------
RAW, FSEG, FRAGS, FICMP, ARP, FADV, FNEXT, APP = range(8)


def f_seg(a, b, flags, seq=0, ack=0, which=0x08, tsval=100, length=b""):
    """seg_build's fields: a picks the addresses, b how seq/ack are taken."""
    out = u8(a, b, flags)
    out += u32(seq) if b & 1 else u8(seq)
    out += u32(ack) if b & 2 else u8(ack)
    out += u16(65535) + u8(which) + u16(1460) + u8(7) + u32(tsval)
    return out


def stack_frames_seeds():
    setup = u8(0x50)  # MTU 1500, the on-link peer resolved, backlog 2
    syn = u8(FSEG) + f_seg(0x00, 0x03, 0x02, 1000, 0, 0x0F)
    ack = u8(FSEG) + f_seg(0x00, 0x00, 0x10, 0, 0)
    data = u8(FSEG) + f_seg(0x00, 0x08, 0x18, 0, 0)  # 100 bytes
    accept = u8(APP, 0, 0) + u16(0)
    send = u8(APP, 1, 0) + u16(300)
    write("stack_frames", "handshake-data", setup + syn + ack + data + accept + send +
          u8(FADV) + delay(300 * MS) + ack + u8(APP, 4, 0) + u16(0) + ack + u8(FNEXT, 7))
    # a closed port: SYN and ACK draw RSTs (closed_input), a RST nothing
    closed = setup + u8(FSEG) + f_seg(0x20, 0x03, 0x02, 1, 0) + \
        u8(FSEG) + f_seg(0x20, 0x03, 0x10, 1, 2) + u8(FSEG) + f_seg(0x20, 0x03, 0x04, 1, 2)
    write("stack_frames", "closed-port", closed)
    # the pending connect on the on-link peer: SYN-ACK, then data
    synack = u8(FSEG) + f_seg(0x38, 0x01, 0x12, 7000, 1, 0x0F)
    write("stack_frames", "connect-synack", setup + synack + u8(FSEG) + f_seg(0x38, 0x08, 0x18, 1, 0) +
          u8(FNEXT, 7) + u8(FNEXT, 7))
    # SYN and SYN-ACK retries until they give up, ARP for the gateway
    write("stack_frames", "retries", setup + syn + u8(FNEXT, 7) * 6)
    # a SYN in two fragments, and an echo request in one frame
    frags = u8(FRAGS, 1, 0) + f_seg(0x00, 0x03 | 0x18, 0x02, 5000, 0, 0x0F) + u16(300) + u8(2, 2)
    echo = u8(FICMP, 0x24, 0, 0) + u16(0x0101) + u8(16) + u8(0) + b"ping-ping-ping!!"
    write("stack_frames", "frags-echo", setup + frags + echo + u8(FADV) + delay(31 * 10**9))
    # ARP: a request for us, a reply, someone claiming our address
    write("stack_frames", "arp", setup + u8(ARP, 0x00) + u8(ARP, 0x45) + u8(ARP, 0x20))


# ---- fuzz_ipv4_reasm -------------------------------------------------------
def r_frag(key, off8, nbytes8, last=False, opts=b"", icmp=False):
    a = key | (0x80 if last else 0) | (0x40 if opts else 0) | (0x20 if icmp else 0)
    out = u8(a, nbytes8) + u16(off8)
    if opts:
        out += u8(len(opts) // 4) + opts
    return out


def ipv4_reasm_seeds():
    write("ipv4_reasm", "two", r_frag(0, 0, 5) + r_frag(0, 5, 5, last=True))
    write("ipv4_reasm", "reversed-options", r_frag(1, 5, 3, last=True) +
          r_frag(1, 0, 5, opts=b"\x01\x01\x01\x00"))
    write("ipv4_reasm", "overlap-dup", r_frag(2, 0, 4) + r_frag(2, 0, 4) + r_frag(2, 2, 4) +
          r_frag(2, 0, 4) + r_frag(2, 4, 1, last=True))
    write("ipv4_reasm", "timeout", r_frag(3, 0, 4) + u8(3, 0x7F) + u16(0) + u8(27, 255) +
          r_frag(3, 4, 4, last=True))
    many = b"".join(r_frag(k, 0, 1) for k in range(8)) + \
        b"".join(r_frag(k, 0, 1, icmp=True) for k in range(8)) + r_frag(0, 0, 1)
    write("ipv4_reasm", "evict", many)
    write("ipv4_reasm", "too-big", r_frag(4, 0, 100) + r_frag(4, 200, 100, last=True))


# ---- fuzz_config -------------------------------------------------------------
def config_seeds():
    vals = [b"10.0.0.1/24", b"10.0.0.254", b"--no-huge -m 64", b"2", b"4096", b"100",
            b"50", b"1000", b"debug", b"1", b"0", b"yes", b"loss=5,seed=3", b"delay=100"]
    write("config", "good", u8(200) + b"\0".join(vals) + b"\0ACCEL_QUEUE=1\0HOME=/\0")
    bad = [b"10.0.0.1/33", b"192.168.0.1", b"", b"17", b"12x", b" 5", b"-1", b"9",
           b"chatty", b"maybe", b"\xff", b"on\n", b"x" * 130, b""]
    write("config", "bad", u8(40) + b"\0".join(bad) + b"\0ACCEL_\0")
    write("config", "tiny-err", u8(1) + b"300.1.1.1\0")


tcp_conn_seeds()
stack_frames_seeds()
ipv4_reasm_seeds()
config_seeds()
