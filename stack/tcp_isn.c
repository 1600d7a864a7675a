/*
 * tcp_isn.c - see tcp_isn.h.
 */
#include <string.h>

#include "tcp_isn.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

static void sip_block(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v); /* c = 2 compression rounds */
	sip_round(v);
	v[0] ^= m;
}

uint64_t tcp_siphash24(const uint8_t key[TCP_ISN_KEY_LEN], const void *data,
		       size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v[4] = { k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
			  k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull };
	uint8_t tail[8] = { 0 };
	size_t i;

	for (i = 0; i + 8 <= len; i += 8)
		sip_block(v, load_le64(p + i));
	memcpy(tail, p + i, len - i);
	tail[7] = (uint8_t)len;
	sip_block(v, load_le64(tail));
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++) /* d = 4 finalization rounds */
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t tuple_hash(const uint8_t key[TCP_ISN_KEY_LEN], uint32_t laddr,
			   uint16_t lport, uint32_t raddr, uint16_t rport)
{
	uint8_t tuple[12];

	memcpy(tuple, &laddr, 4);
	memcpy(tuple + 4, &raddr, 4);
	memcpy(tuple + 8, &lport, 2);
	memcpy(tuple + 10, &rport, 2);
	return tcp_siphash24(key, tuple, sizeof(tuple));
}

uint32_t tcp_isn(const uint8_t key[TCP_ISN_KEY_LEN], uint32_t laddr,
		 uint16_t lport, uint32_t raddr, uint16_t rport, uint64_t now_ns)
{
	return (uint32_t)(now_ns / 4000) +
	       (uint32_t)tuple_hash(key, laddr, lport, raddr, rport);
}

void tcp_isn_ts(const uint8_t key[TCP_ISN_KEY_LEN], uint32_t laddr, uint16_t lport,
		uint32_t raddr, uint16_t rport, uint64_t now_ns, uint32_t *isn,
		uint32_t *ts_off)
{
	uint64_t h = tuple_hash(key, laddr, lport, raddr, rport);

	*isn = (uint32_t)(now_ns / 4000) + (uint32_t)h;
	*ts_off = (uint32_t)(h >> 32);
}
