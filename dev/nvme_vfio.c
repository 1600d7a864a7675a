/*
 * nvme_vfio.c - the "vfio" transport: an NVMe controller bound to
 * vfio-pci, its registers through BAR0 and its queues in memory mapped
 * for it with VFIO_IOMMU_MAP_DMA. Controller set-up and admin commands
 * here; the rings, PRPs and requests in nvme_queue.c. See nvme_vfio.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/real.h"
#include "nvme_queue.h"
#include "nvme_vfio.h"

/* Controller registers (NVMe Base 2.0 §3.1.3). */
#define REG_CAP 0x00
#define REG_CC 0x14
#define REG_CSTS 0x1c
#define REG_AQA 0x24
#define REG_ASQ 0x28
#define REG_ACQ 0x30
#define REG_DB 0x1000
#define CC_EN 1u
#define CC_SHN_NORMAL (1u << 14)
#define CSTS_RDY 1u
#define CSTS_CFS 2u
#define CSTS_SHST_MASK (3u << 2)
#define CSTS_SHST_DONE (2u << 2)

#define ADMIN_ENTRIES 32
/* Bus addresses we hand out: the admin queue and the identify page at
 * IOVA_BASE, queue pair qid at IOVA_BASE + qid * QP_SPAN; below the x86
 * MSI window (0xfee00000) and any IOMMU's 39-bit width. */
#define IOVA_BASE (1ull << 30)
#define QP_SPAN (16ull << 20)
#define MAX_QID 128
/* Per queue pair: bounce slots and the largest command (MDTS may lower). */
#define QP_SLOTS 16
#define SLOT_BYTES (128u * 1024)
#define RING_ENTRIES 64

struct dma {
	void *va;
	size_t len;
	uint64_t iova;
	uint64_t *page;        /* bus address of each page */
};

struct ctrl {
	struct ctrl *next;
	char bdf[32];
	unsigned refs;
	pid_t owner;
	int container, group, device, lock_fd;
	int noiommu, forked;
	volatile uint8_t *bar;
	size_t bar_len;
	uint64_t cap;
	uint32_t stride;       /* doorbell stride, bytes */
	uint64_t to_ns;        /* CAP.TO */
	uint32_t max_xfer;     /* MDTS in bytes, 0 = no limit */
	uint16_t mqes;         /* entries per I/O queue, at most */
	char subnqn[257];      /* Identify Controller SUBNQN */
	unsigned granted;      /* I/O queue pairs */
	pthread_mutex_t lock;  /* the admin queue and the qid map */
	struct nvq_ring admin;
	struct dma amem;       /* ASQ, ACQ, a data page */
	uint16_t acid;
	uint8_t qid_used[MAX_QID + 1];
	/* each qid's rings and bounce pool, mapped on first use and kept until
	 * the controller is closed: unmapping one queue's IOVA range while the
	 * others run made QEMU 7.2's intel-iommu fail the others' DMA (the
	 * controller went fatal, CSTS.CFS); re-pinning per thread is waste
	 * anyway */
	struct dma qmem[MAX_QID + 1];
	volatile int dead;
	int err_said;
	const struct dev_nvme_conf *conf;
	int (*own_fd)(int fd);
};

struct vfio_dev {
	struct dev_nvme_dev base;
	struct ctrl *c;
	uint32_t nsid, lba_shift;
	uint64_t part_lba;
};

struct dev_nvme_qpair {
	struct nvq_qp q;
	struct vfio_dev *d;
	uint16_t qid;
	struct dma *mem;           /* c->qmem[qid] */
	struct nvq_slot slot[QP_SLOTS];
};

static pthread_mutex_t ctrls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctrl *ctrls;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* ---- registers ---------------------------------------------------------- */

static uint32_t r32(struct ctrl *c, uint32_t off)
{
	return *(volatile uint32_t *)(c->bar + off);
}

static void w32(struct ctrl *c, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(c->bar + off) = v;
}

/* 64-bit registers as two dword accesses, low first (§3.1.2 allows). */
static void w64(struct ctrl *c, uint32_t off, uint64_t v)
{
	w32(c, off, (uint32_t)v);
	w32(c, off + 4, (uint32_t)(v >> 32));
}

static uint64_t now_ns(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A waiting owner: a short spin, then yields, then 20 us naps (a guest
 * or a loaded host may have fewer cores than pollers). */
static void idle(void *arg, unsigned spins)
{
	(void)arg;
	if (spins < 200) {
		__builtin_ia32_pause();
	} else if (spins < 400) {
		sched_yield();
	} else {
		struct timespec ts = { 0, 20000 };

		nanosleep(&ts, NULL);
	}
}

/* CSTS.RDY == want within CAP.TO; -ETIMEDOUT, -EIO on a fatal status. */
static int wait_ready(struct ctrl *c, uint32_t want)
{
	uint64_t end = now_ns(NULL) + c->to_ns;
	unsigned spins = 0;

	for (;;) {
		uint32_t s = r32(c, REG_CSTS);

		if (s == 0xffffffffu)
			return -ENODEV; /* gone from the bus */
		if ((s & CSTS_RDY) == want)
			return 0;
		if ((s & CSTS_CFS) && want)
			return -EIO;
		if (now_ns(NULL) > end)
			return -ETIMEDOUT;
		idle(NULL, 400 + spins++);
	}
}

/* CC.EN = 0 and wait for RDY = 0; if it was being enabled, for RDY = 1
 * first (§3.5.2: clearing EN while RDY is still 0 after setting it is
 * undefined). */
static int ctrl_disable(struct ctrl *c)
{
	uint32_t cc = r32(c, REG_CC);

	if (cc & CC_EN) {
		if (!(r32(c, REG_CSTS) & CSTS_CFS))
			wait_ready(c, CSTS_RDY);
		w32(c, REG_CC, cc & ~CC_EN);
	}
	return wait_ready(c, 0);
}

/* ---- DMA memory ------------------------------------------------------------ */

/* Bus addresses of a pinned region without an IOMMU: /proc/self/pagemap. */
static int dma_phys(struct dma *m)
{
	int fd = accel_real.open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t pages = m->len / NVQ_PAGE;
	int rc = 0;

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < pages && !rc; i++) {
		uint64_t e, va = (uint64_t)(uintptr_t)m->va + i * NVQ_PAGE;

		if (accel_real.pread(fd, &e, 8, (off_t)(va / NVQ_PAGE * 8)) != 8 ||
		    !(e >> 63) || !(e & ((1ull << 55) - 1)))
			rc = -EPERM; /* not present, or PFNs hidden (needs CAP_SYS_ADMIN) */
		else
			m->page[i] = (e & ((1ull << 55) - 1)) * NVQ_PAGE;
	}
	accel_real.close(fd);
	return rc;
}

static int dma_alloc(struct ctrl *c, struct dma *m, size_t len, uint64_t iova)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	size_t pages = len / NVQ_PAGE;
	int rc;

	memset(m, 0, sizeof(*m));
	m->len = len;
	m->iova = iova;
	if (!(m->page = calloc(pages, sizeof(*m->page))))
		return -ENOMEM;
	m->va = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m->va == MAP_FAILED) {
		m->va = NULL;
		free(m->page);
		return -ENOMEM;
	}
	madvise(m->va, len, MADV_DONTFORK); /* a child never has it */
	memset(m->va, 0, len);
	if (c->noiommu) {
		rc = mlock(m->va, len) < 0 ? -errno : dma_phys(m);
	} else {
		map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
		map.vaddr = (uint64_t)(uintptr_t)m->va;
		map.iova = iova;
		map.size = len;
		rc = accel_real.ioctl(c->container, VFIO_IOMMU_MAP_DMA, &map) < 0 ? -errno : 0;
		for (size_t i = 0; i < pages; i++)
			m->page[i] = iova + i * NVQ_PAGE;
	}
	if (rc < 0) {
		munmap(m->va, len);
		free(m->page);
		memset(m, 0, sizeof(*m));
	}
	return rc;
}

static void dma_free(struct ctrl *c, struct dma *m)
{
	struct vfio_iommu_type1_dma_map unmap = { .argsz = sizeof(unmap) };

	if (!m->va)
		return;
	if (!c->noiommu) {
		unmap.iova = m->iova;
		unmap.size = m->len;
		accel_real.ioctl(c->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	}
	munmap(m->va, m->len);
	free(m->page);
	memset(m, 0, sizeof(*m));
}

/* ---- admin commands --------------------------------------------------------- */

/* One admin command, waited for within CAP.TO: 0, -EIO (its status in
 * *status), -ETIMEDOUT. Under c->lock. */
static int admin(struct ctrl *c, struct nvq_sqe *e, uint32_t *dw0, uint16_t *status)
{
	uint64_t end = now_ns(NULL) + c->to_ns;
	struct nvq_cqe cqe;
	unsigned spins = 0;

	e->cid = ++c->acid;
	if (nvq_ring_push(&c->admin, e) < 0)
		return -EBUSY;
	nvq_ring_kick(&c->admin);
	for (;;) {
		if (nvq_ring_reap(&c->admin, &cqe, 1) && cqe.cid == e->cid)
			break;
		if (now_ns(NULL) > end)
			return -ETIMEDOUT;
		idle(NULL, spins++);
	}
	if (dw0)
		*dw0 = cqe.dw0;
	if (status)
		*status = (uint16_t)(cqe.status >> 1) & 0x7ff;
	return (cqe.status >> 1) & 0x7ff ? -EIO : 0;
}

/* Identify (§5.17) into the admin data page. */
static int identify(struct ctrl *c, uint8_t cns, uint32_t nsid)
{
	struct nvq_sqe e = { .opc = NVQ_ADM_IDENTIFY, .nsid = nsid, .cdw10 = cns };

	e.prp1 = c->amem.page[2];
	memset((char *)c->amem.va + 2 * NVQ_PAGE, 0, NVQ_PAGE);
	return admin(c, &e, NULL, NULL);
}

static const uint8_t *idbuf(struct ctrl *c)
{
	return (const uint8_t *)c->amem.va + 2 * NVQ_PAGE;
}

/* ---- bringing a controller up ------------------------------------------------ */

static int read_link_base(const char *path, char *out, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n <= 0)
		return -errno;
	buf[n] = '\0';
	snprintf(out, len, "%s", basename(buf));
	return 0;
}

/* The lock that names the owner: one process drives a controller. */
static int take_lock(struct ctrl *c, char *why, size_t whylen)
{
	char path[96], buf[24] = "";
	int fd, n;

	mkdir(DEV_NVME_VFIO_LOCK_DIR, 0755);
	snprintf(path, sizeof(path), DEV_NVME_VFIO_LOCK_DIR "/nvme-%s.lock", c->bdf);
	fd = accel_real.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(why, whylen, "controller %s: cannot create %s: %s", c->bdf, path,
			 strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)accel_real.pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(why, whylen, "controller %s is in use by process %s (%s)", c->bdf,
			 buf[0] ? buf : "?", path);
		accel_real.close(fd);
		return -EBUSY;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || accel_real.pwrite(fd, buf, (size_t)n, 0) != n)
		ACCEL_WARN("storage: %s: cannot write our PID", path);
	c->lock_fd = c->own_fd ? c->own_fd(fd) : fd;
	return 0;
}

static int hide(struct ctrl *c, int fd)
{
	return fd >= 0 && c->own_fd ? c->own_fd(fd) : fd;
}

/* The group of the device, its container with an IOMMU, the device fd. */
static int open_vfio(struct ctrl *c, char *why, size_t whylen)
{
	char path[128], name[64], node[96];
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct stat st;
	int type;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", c->bdf);
	if (stat(path, &st) < 0) {
		snprintf(why, whylen, "ACCEL_NVME=%s: no such PCI device", c->bdf);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", c->bdf);
	if (read_link_base(path, name, sizeof(name)) < 0 || strcmp(name, "vfio-pci")) {
		snprintf(why, whylen, "controller %s is not bound to vfio-pci (driver: %s)",
			 c->bdf, access(path, F_OK) ? "none" : name);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", c->bdf);
	if (read_link_base(path, name, sizeof(name)) < 0) {
		snprintf(why, whylen, "controller %s has no IOMMU group", c->bdf);
		return -ENODEV;
	}
	snprintf(node, sizeof(node), "/dev/vfio/%s", name);
	if (stat(node, &st) < 0) {
		snprintf(node, sizeof(node), "/dev/vfio/noiommu-%s", name);
		if (stat(node, &st) < 0) {
			snprintf(why, whylen, "controller %s: no /dev/vfio/%s", c->bdf, name);
			return -ENODEV;
		}
		if (!c->conf->unsafe_noiommu) {
			snprintf(why, whylen, "controller %s has no IOMMU (vfio no-IOMMU mode: "
				 "the device could write anywhere in memory); set "
				 "ACCEL_NVME_UNSAFE_NOIOMMU=1 to accept", c->bdf);
			return -EPERM;
		}
		c->noiommu = 1;
	}
	c->container = hide(c, accel_real.open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC));
	if (c->container < 0 ||
	    accel_real.ioctl(c->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		snprintf(why, whylen, "controller %s: /dev/vfio/vfio: %s", c->bdf,
			 c->container < 0 ? strerror(errno) : "unknown API version");
		return -ENODEV;
	}
	type = c->noiommu ? VFIO_NOIOMMU_IOMMU :
	       accel_real.ioctl(c->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ?
	       VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
	if (accel_real.ioctl(c->container, VFIO_CHECK_EXTENSION, type) <= 0) {
		snprintf(why, whylen, "controller %s: the kernel has no type1 IOMMU for vfio",
			 c->bdf);
		return -ENODEV;
	}
	c->group = hide(c, accel_real.open(node, O_RDWR | O_CLOEXEC));
	if (c->group < 0) {
		snprintf(why, whylen, "controller %s: %s: %s", c->bdf, node, strerror(errno));
		return -errno;
	}
	if (accel_real.ioctl(c->group, VFIO_GROUP_GET_STATUS, &gs) < 0 ||
	    !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		snprintf(why, whylen, "controller %s: IOMMU group %s is not viable (bind every "
			 "device of it to vfio-pci)", c->bdf, name);
		return -EPERM;
	}
	if (accel_real.ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container) < 0 ||
	    accel_real.ioctl(c->container, VFIO_SET_IOMMU, type) < 0) {
		snprintf(why, whylen, "controller %s: cannot set up the IOMMU: %s", c->bdf,
			 strerror(errno));
		return -errno;
	}
	c->device = hide(c, accel_real.ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, c->bdf));
	if (c->device < 0) {
		snprintf(why, whylen, "controller %s: cannot get the device: %s", c->bdf,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

/* BAR0 mapped, memory decoding and bus mastering on (PCI command). */
static int map_bar(struct ctrl *c, char *why, size_t whylen)
{
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
					.index = VFIO_PCI_CONFIG_REGION_INDEX };
	uint16_t cmd;
	void *p;

	if (accel_real.ioctl(c->device, VFIO_DEVICE_GET_REGION_INFO, &bar) < 0 ||
	    !(bar.flags & VFIO_REGION_INFO_FLAG_MMAP) || bar.size < REG_DB + 8) {
		snprintf(why, whylen, "controller %s: BAR0 cannot be mapped", c->bdf);
		return -ENODEV;
	}
	p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, c->device,
		 (off_t)bar.offset);
	if (p == MAP_FAILED) {
		snprintf(why, whylen, "controller %s: mmap BAR0: %s", c->bdf, strerror(errno));
		return -errno;
	}
	madvise(p, bar.size, MADV_DONTFORK);
	c->bar = p;
	c->bar_len = bar.size;
	if (accel_real.ioctl(c->device, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0 ||
	    accel_real.pread(c->device, &cmd, 2, (off_t)cfg.offset + 4) != 2) {
		snprintf(why, whylen, "controller %s: no PCI config space", c->bdf);
		return -ENODEV;
	}
	cmd |= 0x6; /* memory space, bus master */
	if (accel_real.pwrite(c->device, &cmd, 2, (off_t)cfg.offset + 4) != 2) {
		snprintf(why, whylen, "controller %s: cannot enable bus mastering", c->bdf);
		return -EIO;
	}
	return 0;
}

/* Reset, admin queue, enable (§3.5.1), then Identify controller and
 * Set Features Number of Queues. */
static int ctrl_enable(struct ctrl *c, char *why, size_t whylen)
{
	uint32_t dw0, mps_min;
	unsigned want;
	int rc;

	c->cap = (uint64_t)r32(c, REG_CAP) | (uint64_t)r32(c, REG_CAP + 4) << 32;
	c->mqes = (uint16_t)(c->cap & 0xffff);
	c->to_ns = ((c->cap >> 24) & 0xff) * 500000000ull;
	if (!c->to_ns)
		c->to_ns = 500000000ull;
	c->stride = 4u << ((c->cap >> 32) & 0xf);
	mps_min = (uint32_t)(c->cap >> 48) & 0xf;
	if (mps_min != 0 || !((c->cap >> 37) & 1)) {
		snprintf(why, whylen, "controller %s: needs 4 KiB pages and the NVM command set",
			 c->bdf);
		return -ENODEV;
	}
	if ((rc = ctrl_disable(c)) < 0) {
		snprintf(why, whylen, "controller %s: reset: %s (CAP.TO %llu ms)", c->bdf,
			 strerror(-rc), (unsigned long long)(c->to_ns / 1000000));
		return rc;
	}
	if ((rc = dma_alloc(c, &c->amem, 3 * NVQ_PAGE, IOVA_BASE)) < 0) {
		snprintf(why, whylen, "controller %s: cannot map DMA memory: %s", c->bdf,
			 strerror(-rc));
		return rc;
	}
	nvq_ring_init(&c->admin, c->amem.va, (char *)c->amem.va + NVQ_PAGE, ADMIN_ENTRIES,
		      (volatile uint32_t *)(c->bar + REG_DB),
		      (volatile uint32_t *)(c->bar + REG_DB + c->stride));
	w32(c, REG_AQA, (ADMIN_ENTRIES - 1) << 16 | (ADMIN_ENTRIES - 1));
	w64(c, REG_ASQ, c->amem.page[0]);
	w64(c, REG_ACQ, c->amem.page[1]);
	/* IOCQES 16 bytes, IOSQES 64, round robin, 4 KiB pages, NVM */
	w32(c, REG_CC, 4u << 20 | 6u << 16 | CC_EN);
	if ((rc = wait_ready(c, CSTS_RDY)) < 0) {
		snprintf(why, whylen, "controller %s: enable: %s", c->bdf, strerror(-rc));
		return rc;
	}
	if ((rc = identify(c, 1, 0)) < 0) {
		snprintf(why, whylen, "controller %s: Identify Controller failed", c->bdf);
		return rc;
	}
	c->max_xfer = idbuf(c)[77] ? NVQ_PAGE << idbuf(c)[77] : 0; /* MDTS, MPSMIN 0 */
	memcpy(c->subnqn, idbuf(c) + 768, 256);
	c->subnqn[256] = '\0';
	/* one more than may be owned: the pair threads past the cap share */
	want = c->conf->queues + 1;
	want = want > MAX_QID ? MAX_QID : want;
	{
		struct nvq_sqe e = { .opc = NVQ_ADM_SET_FEATURES, .cdw10 = 0x07,
				     .cdw11 = (want - 1) << 16 | (want - 1) };

		if ((rc = admin(c, &e, &dw0, NULL)) < 0) {
			snprintf(why, whylen, "controller %s: Set Features Number of Queues failed",
				 c->bdf);
			return rc;
		}
	}
	/* NSQA and NCQA, 0's based: what we may use */
	c->granted = (dw0 & 0xffff) < (dw0 >> 16) ? (dw0 & 0xffff) + 1 : (dw0 >> 16) + 1;
	if (c->granted > want)
		c->granted = want;
	return 0;
}

/* A normal shutdown (§3.6.1: the controller commits its cache), then
 * CC.EN = 0; each wait bounded by CAP.TO. */
static void ctrl_shutdown(struct ctrl *c)
{
	if (!(r32(c, REG_CSTS) & CSTS_CFS) && (r32(c, REG_CC) & CC_EN)) {
		uint64_t end = now_ns(NULL) + c->to_ns;

		w32(c, REG_CC, r32(c, REG_CC) | CC_SHN_NORMAL);
		while ((r32(c, REG_CSTS) & CSTS_SHST_MASK) != CSTS_SHST_DONE &&
		       now_ns(NULL) < end)
			idle(NULL, 400);
	}
	ctrl_disable(c);
}

static void ctrl_free(struct ctrl *c)
{
	if (c->bar && !c->forked && !c->dead)
		ctrl_shutdown(c);
	if (!c->forked) {
		dma_free(c, &c->amem);
		for (unsigned i = 0; i <= MAX_QID; i++)
			dma_free(c, &c->qmem[i]);
	}
	if (c->bar)
		munmap((void *)c->bar, c->bar_len);
	if (c->device >= 0)
		accel_real.close(c->device);
	if (c->group >= 0)
		accel_real.close(c->group);
	if (c->container >= 0)
		accel_real.close(c->container);
	if (c->lock_fd >= 0)
		accel_real.close(c->lock_fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* A forked child: drops its copies of every controller's descriptors
 * (the parent's stay open); BAR0 and the DMA memory were never mapped in
 * it. Its objects stay allocated and untouched. */
static void fork_child(void)
{
	for (struct ctrl *c = ctrls; c; c = c->next) {
		c->forked = 1;
		c->dead = 1;
		c->bar = NULL;
		accel_real.close(c->device);
		accel_real.close(c->group);
		accel_real.close(c->container);
		accel_real.close(c->lock_fd);
		c->device = c->group = c->container = c->lock_fd = -1;
	}
	ctrls = NULL;
}

static void fork_setup(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}

/* At exit, the owner shuts each controller down and disables it; a
 * thread still in a call sees the controller dead and gets EIO. */
__attribute__((destructor)) static void vfio_exit(void)
{
	pthread_mutex_lock(&ctrls_lock);
	for (struct ctrl *c = ctrls; c; c = c->next) {
		if (c->owner != getpid() || c->forked || !c->bar)
			continue;
		c->dead = 1;
		pthread_mutex_lock(&c->lock);
		ctrl_shutdown(c);
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&ctrls_lock);
}

/* The controller of conf->pci, brought up on first use; refs counted. */
static struct ctrl *ctrl_get(const struct dev_nvme_conf *conf, char *why, size_t whylen)
{
	struct ctrl *c;

	pthread_once(&fork_once, fork_setup);
	pthread_mutex_lock(&ctrls_lock);
	for (c = ctrls; c; c = c->next)
		if (!strcmp(c->bdf, conf->pci) && !c->dead) {
			c->refs++;
			pthread_mutex_unlock(&ctrls_lock);
			return c;
		}
	if (!(c = calloc(1, sizeof(*c)))) {
		pthread_mutex_unlock(&ctrls_lock);
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	snprintf(c->bdf, sizeof(c->bdf), "%s", conf->pci);
	c->container = c->group = c->device = c->lock_fd = -1;
	c->conf = conf;
	c->own_fd = conf->own_fd;
	c->owner = getpid();
	pthread_mutex_init(&c->lock, NULL);
	if (take_lock(c, why, whylen) < 0 || open_vfio(c, why, whylen) < 0 ||
	    map_bar(c, why, whylen) < 0 || ctrl_enable(c, why, whylen) < 0) {
		ctrl_free(c);
		pthread_mutex_unlock(&ctrls_lock);
		return NULL;
	}
	c->conf = NULL; /* the caller's; only set-up read it */
	c->refs = 1;
	c->next = ctrls;
	ctrls = c;
	pthread_mutex_unlock(&ctrls_lock);
	return c;
}

static void ctrl_put(struct ctrl *c)
{
	struct ctrl **p;

	pthread_mutex_lock(&ctrls_lock);
	if (--c->refs) {
		pthread_mutex_unlock(&ctrls_lock);
		return;
	}
	for (p = &ctrls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	pthread_mutex_unlock(&ctrls_lock);
	ctrl_free(c);
}

/* ---- which namespace -------------------------------------------------------- */

struct ns_id {
	uint8_t nguid[16], eui[8], uuid[16];
	int has_nguid, has_eui, has_uuid;
	char nqn[257];   /* with nsid: a namespace's name in its subsystem */
	uint32_t nsid;
};

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Hex digits of s into n bytes, anything else skipped; 1 when exactly n. */
static int hex_bytes(const char *s, uint8_t *out, size_t n)
{
	size_t k = 0;
	int hi = -1;

	for (; *s; s++) {
		int v = *s >= '0' && *s <= '9' ? *s - '0' :
			*s >= 'a' && *s <= 'f' ? *s - 'a' + 10 :
			*s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;

		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (k == n)
			return 0;
		out[k++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return k == n && hi < 0;
}

static int sysfs_line(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = accel_real.open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = accel_real.read(fd, buf, len - 1);
	accel_real.close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The disk under st_dev (the partition's parent), its name and ids. */
static int disk_ids(dev_t dev, char *disk, size_t dlen, struct ns_id *id,
		    uint64_t *bytes, char *why, size_t whylen)
{
	char link[64], dir[PATH_MAX], buf[128];

	memset(id, 0, sizeof(*id));
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	if (!realpath(link, dir))
		return -ENODEV;
	if (sysfs_line(dir, "size", buf, sizeof(buf)) == 0)
		*bytes = strtoull(buf, NULL, 10) * 512;
	if (sysfs_line(dir, "partition", buf, sizeof(buf)) == 0)
		dirname(dir);
	snprintf(disk, dlen, "%s", basename(dir));
	if (strncmp(disk, "nvme", 4)) {
		snprintf(why, whylen, "%s is not an NVMe namespace (ACCEL_NVME drives a second "
			 "controller of the namespace under the file)", disk);
		return -ENODEV;
	}
	if (sysfs_line(dir, "nguid", buf, sizeof(buf)) == 0 &&
	    hex_bytes(buf, id->nguid, 16) && !all_zero(id->nguid, 16))
		id->has_nguid = 1;
	if (sysfs_line(dir, "eui", buf, sizeof(buf)) == 0 && hex_bytes(buf, id->eui, 8) &&
	    !all_zero(id->eui, 8))
		id->has_eui = 1;
	/* wwid "eui.<16 or 32 hex>" when the files above are absent */
	if (!id->has_nguid && !id->has_eui && sysfs_line(dir, "wwid", buf, sizeof(buf)) == 0 &&
	    !strncmp(buf, "eui.", 4)) {
		if (hex_bytes(buf + 4, id->nguid, 16) && !all_zero(id->nguid, 16))
			id->has_nguid = 1;
		else if (hex_bytes(buf + 4, id->eui, 8) && !all_zero(id->eui, 8))
			id->has_eui = 1;
	}
	if (sysfs_line(dir, "uuid", buf, sizeof(buf)) == 0 && hex_bytes(buf, id->uuid, 16) &&
	    !all_zero(id->uuid, 16))
		id->has_uuid = 1;
	/* No global id: the subsystem's NQN and the NSID, unique in it
	 * (§3.2.1.2, §4.5: an NSID names one namespace in an NVM subsystem);
	 * the NQN of a multipath head is its subsystem's, else its
	 * controller's. */
	if (sysfs_line(dir, "nsid", buf, sizeof(buf)) == 0)
		id->nsid = (uint32_t)strtoul(buf, NULL, 10);
	if (sysfs_line(dir, "../subsysnqn", id->nqn, sizeof(id->nqn)) < 0 &&
	    sysfs_line(dir, "device/subsysnqn", id->nqn, sizeof(id->nqn)) < 0)
		id->nqn[0] = '\0';
	if (!id->has_nguid && !id->has_eui && !id->has_uuid && (!id->nsid || !id->nqn[0])) {
		snprintf(why, whylen, "%s has no NGUID, EUI64, UUID or subsystem NQN in sysfs: "
			 "the namespace of ACCEL_NVME's controller cannot be proven to be it", disk);
		return -ENODEV;
	}
	return 0;
}

/* The namespace's UUID from its Namespace Identification Descriptor
 * list (Identify CNS 03h, §5.17.2.3: NIDT 3, NIDL 16); 0 when it has one. */
static int ns_uuid(struct ctrl *c, uint32_t nsid, uint8_t *uuid)
{
	const uint8_t *b;

	if (identify(c, 3, nsid) < 0)
		return -EIO;
	b = idbuf(c);
	for (unsigned off = 0; off + 4 <= NVQ_PAGE && b[off] && b[off + 1];
	     off += 4u + b[off + 1]) {
		if (b[off] == 3 && b[off + 1] == 16 && off + 20 <= NVQ_PAGE) {
			memcpy(uuid, b + off + 4, 16);
			return 0;
		}
	}
	return -ENOENT;
}

/* Identify Namespace of nsid matches the disk's ids, strongest first
 * (NGUID, EUI64, UUID): 1; *shift, *nsze. */
static int ns_matches(struct ctrl *c, uint32_t nsid, const struct ns_id *want,
		      uint32_t *shift, uint64_t *nsze)
{
	uint8_t nguid[16], eui[8], uuid[16];
	const uint8_t *b;
	uint8_t fmt;

	if (identify(c, 0, nsid) < 0)
		return 0;
	b = idbuf(c);
	memcpy(nsze, b, 8);
	fmt = (uint8_t)((b[26] & 0xf) | ((b[26] >> 1) & 0x30)); /* FLBAS, §4.1.5.1 */
	*shift = b[128 + 4 * fmt + 2];
	memcpy(nguid, b + 104, 16);
	memcpy(eui, b + 120, 8);
	if (want->has_nguid && !all_zero(nguid, 16))
		return !memcmp(nguid, want->nguid, 16);
	if (want->has_eui && !all_zero(eui, 8))
		return !memcmp(eui, want->eui, 8);
	if (want->has_uuid && ns_uuid(c, nsid, uuid) == 0)
		return !memcmp(uuid, want->uuid, 16);
	if (!want->has_nguid && !want->has_eui && !want->has_uuid)
		return all_zero(nguid, 16) && all_zero(eui, 8) && nsid == want->nsid && *nsze &&
		       !strcmp(c->subnqn, want->nqn);
	return 0;
}

/* The active namespace of c with the disk's ids (Identify CNS 02h). */
static int ns_find(struct ctrl *c, const struct ns_id *want, uint32_t *nsid,
		   uint32_t *shift, uint64_t *nsze)
{
	uint32_t list[1024];
	int rc;

	pthread_mutex_lock(&c->lock);
	if ((rc = identify(c, 2, 0)) == 0) {
		memcpy(list, idbuf(c), sizeof(list));
		rc = -ENOENT;
		for (unsigned i = 0; i < 1024 && list[i] && rc; i++)
			if (ns_matches(c, list[i], want, shift, nsze)) {
				*nsid = list[i];
				rc = 0;
			}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void id_text(const struct ns_id *id, char *buf, size_t len)
{
	const uint8_t *b = id->has_nguid ? id->nguid : id->has_eui ? id->eui : id->uuid;
	size_t n = id->has_eui && !id->has_nguid ? 8 : 16, k;

	if (!id->has_nguid && !id->has_eui && !id->has_uuid) {
		snprintf(buf, len, "NSID %u of subsystem %.*s", id->nsid,
			 (int)(len > 40 ? len - 40 : 1), id->nqn);
		return;
	}
	k = (size_t)snprintf(buf, len, "%s ", id->has_nguid ? "NGUID" :
			     id->has_eui ? "EUI64" : "UUID");
	for (size_t i = 0; i < n && k + 3 < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "%02x", b[i]);
}

/* ---- the transport ------------------------------------------------------------ */

static int vfio_open(dev_t dev, const struct dev_nvme_conf *conf,
		     struct dev_nvme_dev **out, char *why, size_t whylen)
{
	struct vfio_dev *d;
	struct ns_id id;
	char disk[64], ids[160];
	uint64_t part_bytes = 0, nsze = 0;
	uint32_t shift = 0;
	int rc;

	if (!conf->pci || !conf->pci[0]) {
		snprintf(why, whylen, "%s", "vfio: no controller named (ACCEL_NVME)");
		return -EINVAL;
	}
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	d->base.ops = &dev_nvme_vfio_ops;
	if ((rc = dev_nvme_sysfs(dev, &d->base.info, why, whylen)) < 0 ||
	    (rc = disk_ids(dev, disk, sizeof(disk), &id, &part_bytes, why, whylen)) < 0) {
		free(d);
		return rc;
	}
	/* before any I/O: B's namespace is the one under the file */
	if (!(d->c = ctrl_get(conf, why, whylen))) {
		free(d);
		return -ENODEV;
	}
	id_text(&id, ids, sizeof(ids));
	if (ns_find(d->c, &id, &d->nsid, &shift, &nsze) < 0) {
		snprintf(why, whylen, "controller %s has no namespace with %s (that of %s, "
			 "under the file)", d->c->bdf, ids, disk);
		rc = -ENODEV;
	} else if (shift < 9 || shift > 16 || (1u << shift) != d->base.info.lba_size) {
		snprintf(why, whylen, "controller %s namespace %u: block size %u, %s has %u",
			 d->c->bdf, d->nsid, shift < 32 ? 1u << shift : 0, disk,
			 d->base.info.lba_size);
		rc = -ENODEV;
	} else if (d->base.info.part_start + part_bytes > (nsze << shift)) {
		snprintf(why, whylen, "controller %s namespace %u is smaller than %s",
			 d->c->bdf, d->nsid, d->base.info.node);
		rc = -ENODEV;
	}
	if (rc < 0) {
		ctrl_put(d->c);
		free(d);
		return rc;
	}
	d->lba_shift = shift;
	d->part_lba = d->base.info.part_start >> shift;
	d->base.info.bytes = part_bytes;
	d->base.info.max_qpairs = d->c->granted;
	d->base.info.max_cmd = 1u << 30; /* split here at the slot size */
	d->base.info.nvme_cmds = 1;
	ACCEL_INFO("storage: %s is namespace %u of controller %s (%s), %u I/O queues granted",
		   d->base.info.node, d->nsid, d->c->bdf, ids, d->c->granted);
	*out = &d->base;
	return 0;
}

static void vfio_close(struct dev_nvme_dev *base)
{
	struct vfio_dev *d = (struct vfio_dev *)base;

	ctrl_put(d->c);
	free(d);
}

static void on_error(void *arg, uint16_t status, uint8_t opc)
{
	struct ctrl *c = arg;

	if (__atomic_exchange_n(&c->err_said, 1, __ATOMIC_RELAXED))
		return;
	ACCEL_WARN("storage: controller %s failed a command (opcode 0x%02x, status type %u "
		   "code 0x%02x); such calls return EIO (said once)", c->bdf, opc,
		   (status >> 8) & 7u, status & 0xffu);
}

/* Create I/O CQ then SQ (§5.3, §5.4), physically contiguous, polled. */
static int create_queues(struct ctrl *c, struct dev_nvme_qpair *q, uint16_t size)
{
	struct nvq_sqe cq = { .opc = NVQ_ADM_CREATE_CQ, .prp1 = q->mem->page[1],
			      .cdw10 = (uint32_t)(size - 1) << 16 | q->qid, .cdw11 = 1 };
	struct nvq_sqe sq = { .opc = NVQ_ADM_CREATE_SQ, .prp1 = q->mem->page[0],
			      .cdw10 = (uint32_t)(size - 1) << 16 | q->qid,
			      .cdw11 = (uint32_t)q->qid << 16 | 1 };
	struct nvq_sqe del = { .opc = NVQ_ADM_DELETE_CQ, .cdw10 = q->qid };
	int rc;

	if ((rc = admin(c, &cq, NULL, NULL)) < 0)
		return rc;
	if ((rc = admin(c, &sq, NULL, NULL)) < 0)
		admin(c, &del, NULL, NULL);
	return rc;
}

static void qp_layout(struct vfio_dev *d, struct dev_nvme_qpair *q, uint16_t size,
		      uint32_t slot_bytes)
{
	struct ctrl *c = d->c;
	char *va = q->mem->va;
	uint32_t db = REG_DB + 2u * q->qid * c->stride;

	nvq_ring_init(&q->q.r, va, va + NVQ_PAGE, size, (volatile uint32_t *)(c->bar + db),
		      (volatile uint32_t *)(c->bar + db + c->stride));
	for (unsigned i = 0; i < QP_SLOTS; i++) {
		size_t list = 2 + i, data = 2 + QP_SLOTS + (size_t)i * (slot_bytes / NVQ_PAGE);

		q->slot[i].list = (uint64_t *)(va + list * NVQ_PAGE);
		q->slot[i].list_iova = q->mem->page[list];
		q->slot[i].va = va + data * NVQ_PAGE;
		q->slot[i].page = &q->mem->page[data];
	}
	q->q.slot = q->slot;
	q->q.nsid = d->nsid;
	q->q.lba_shift = d->lba_shift;
	q->q.slot_bytes = slot_bytes;
	q->q.timeout_ns = c->to_ns;
	q->q.dead = &c->dead;
	q->q.env = (struct nvq_env){ now_ns, idle, on_error, c };
}

static int vfio_qpair_create(struct dev_nvme_dev *base, struct dev_nvme_qpair **out)
{
	struct vfio_dev *d = (struct vfio_dev *)base;
	struct ctrl *c = d->c;
	struct dev_nvme_qpair *q;
	uint32_t slot_bytes = c->max_xfer && c->max_xfer < SLOT_BYTES ? c->max_xfer : SLOT_BYTES;
	uint16_t size = c->mqes + 1u < RING_ENTRIES ? (uint16_t)(c->mqes + 1u) : RING_ENTRIES;
	unsigned depth = 64;
	int rc = -EBUSY;

	if (c->dead)
		return -EIO;
	if (!(q = calloc(1, sizeof(*q))))
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 1; i <= c->granted && i <= MAX_QID; i++)
		if (!c->qid_used[i]) {
			q->qid = (uint16_t)i;
			rc = 0;
			break;
		}
	if (rc == 0) {
		q->mem = &c->qmem[q->qid];
		if (!q->mem->va)
			rc = dma_alloc(c, q->mem,
				       (2 + QP_SLOTS) * NVQ_PAGE + (size_t)QP_SLOTS * slot_bytes,
				       IOVA_BASE + q->qid * QP_SPAN);
	}
	if (rc == 0) {
		qp_layout(d, q, size, slot_bytes);
		rc = create_queues(c, q, size);
	}
	if (rc == 0)
		c->qid_used[q->qid] = 1;
	pthread_mutex_unlock(&c->lock);
	if (rc == 0 && (rc = nvq_qp_init(&q->q, QP_SLOTS, (uint16_t)depth)) < 0) {
		pthread_mutex_lock(&c->lock);
		c->qid_used[q->qid] = 0;
		pthread_mutex_unlock(&c->lock);
	}
	if (rc < 0) {
		free(q);
		return rc;
	}
	q->d = d;
	*out = q;
	return 0;
}

static void vfio_qpair_destroy(struct dev_nvme_qpair *q)
{
	struct ctrl *c = q->d->c;
	struct nvq_sqe sq = { .opc = NVQ_ADM_DELETE_SQ, .cdw10 = q->qid };
	struct nvq_sqe cq = { .opc = NVQ_ADM_DELETE_CQ, .cdw10 = q->qid };
	int ok = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->dead && !q->q.broken)
		ok = admin(c, &sq, NULL, NULL) == 0 && admin(c, &cq, NULL, NULL) == 0;
	/* The memory stays mapped for the qid's next queue; a qid whose queue
	 * timed out is never reused (the controller may still write it). */
	if (ok)
		c->qid_used[q->qid] = 0;
	pthread_mutex_unlock(&c->lock);
	nvq_qp_fini(&q->q);
	free(q);
}

/* An offset of the device (partition) to a block of the namespace. */
static int to_lba(struct dev_nvme_qpair *q, uint32_t len, uint64_t off, uint64_t *lba)
{
	struct vfio_dev *d = q->d;
	uint32_t mask = (1u << d->lba_shift) - 1;

	if ((off | len) & mask || off + len > d->base.info.bytes) {
		ACCEL_DEBUG("storage: controller %s: %u bytes at %llu are not blocks of %s",
			    d->c->bdf, len, (unsigned long long)off, d->base.info.node);
		return -EINVAL;
	}
	*lba = d->part_lba + (off >> d->lba_shift);
	return 0;
}

static int vfio_read(struct dev_nvme_qpair *q, void *buf, uint32_t len, uint64_t off,
		     uint64_t tag)
{
	uint64_t lba;
	int rc = to_lba(q, len, off, &lba);

	if (rc == 0 && (rc = nvq_submit(&q->q, NVQ_OP_READ, buf, len, lba, tag)) < 0)
		ACCEL_DEBUG("storage: controller %s queue %u: read refused (%d)", q->d->c->bdf,
			    q->qid, rc);
	return rc;
}

static int vfio_write(struct dev_nvme_qpair *q, const void *buf, uint32_t len, uint64_t off,
		      uint64_t tag)
{
	uint64_t lba;
	int rc = to_lba(q, len, off, &lba);

	return rc < 0 ? rc : nvq_submit(&q->q, NVQ_OP_WRITE, (void *)buf, len, lba, tag);
}

static int vfio_flush(struct dev_nvme_qpair *q, uint64_t tag)
{
	return nvq_submit(&q->q, NVQ_OP_FLUSH, NULL, 0, 0, tag);
}

_Static_assert(sizeof(struct nvq_done) == sizeof(struct dev_nvme_cpl) &&
	       offsetof(struct nvq_done, res) == offsetof(struct dev_nvme_cpl, res),
	       "a completion is the same in both");

static int vfio_poll(struct dev_nvme_qpair *q, struct dev_nvme_cpl *cpl, unsigned max,
		     unsigned wait)
{
	uint64_t before = q->q.s.timeouts;
	int n = nvq_poll(&q->q, (struct nvq_done *)cpl, max, wait);

	if (n < (int)wait)
		ACCEL_DEBUG("storage: controller %s queue %u: poll got %d of %u (queued %u, at "
			    "the controller %u, broken %d)", q->d->c->bdf, q->qid, n, wait,
			    q->q.qcount, q->q.inflight, q->q.broken);
	for (int i = 0; i < n; i++)
		if (cpl[i].res < 0)
			ACCEL_DEBUG("storage: controller %s queue %u: a request ended %d",
				    q->d->c->bdf, q->qid, cpl[i].res);
	if (q->q.s.timeouts != before)
		ACCEL_WARN("storage: controller %s: no completion on I/O queue %u for %llu ms "
			   "(CAP.TO; CSTS 0x%x); its I/O fails with EIO from now on", q->d->c->bdf,
			   q->qid, (unsigned long long)(q->d->c->to_ns / 1000000),
			   r32(q->d->c, REG_CSTS));
	return n;
}

const struct dev_nvme_transport_ops dev_nvme_vfio_ops = {
	.name = "vfio",
	.open = vfio_open,
	.close = vfio_close,
	.qpair_create = vfio_qpair_create,
	.qpair_destroy = vfio_qpair_destroy,
	.submit_read = vfio_read,
	.submit_write = vfio_write,
	.submit_flush = vfio_flush,
	.poll = vfio_poll,
};
