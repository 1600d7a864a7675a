/*
 * nvme_vfio.h - the "vfio" transport of nvme.h: an NVMe controller bound
 * to vfio-pci, driven from user space. The deployment: a namespace with
 * two controllers (a dual-port drive, an SR-IOV function); the kernel
 * keeps controller A and the mounted file system, the shim drives
 * controller B (ACCEL_NVME=<PCI address>) with queue pairs of its own.
 *
 * Opening a device (dev_nvme_open with conf.pci):
 *  - the controller is taken for this process with an flock on
 *    /run/libaccel/nvme-<BDF>.lock holding the PID; a process that finds
 *    it taken gets a refusal naming the owner (its files stay on the
 *    kernel);
 *  - its IOMMU group is opened in a type1 container; a group without an
 *    IOMMU (/dev/vfio/noiommu-N) is refused unless conf.unsafe_noiommu;
 *  - BAR0 is mapped, the controller reset and enabled (CC/CSTS, waits
 *    bounded by CAP.TO), Identify controller and the active namespaces
 *    read, Set Features Number of Queues asks for conf.queues pairs;
 *  - the namespace must be the one under the file system: its NGUID or
 *    EUI64 equal to sysfs' nguid/eui/wwid of the disk of st_dev, the same
 *    block size and size; otherwise refused with the reason. Offsets add
 *    the partition's start from sysfs.
 *
 * Queue pairs: one I/O SQ/CQ per dev_nvme_qpair_create, up to what the
 * controller granted (info.max_qpairs), each with a pinned bounce pool
 * mapped with VFIO_IOMMU_MAP_DMA (no hugepages): the program's buffers
 * are copied, never pinned. Commands are split at the pool's slot size
 * (MDTS bounds it), with PRP lists past two pages; completions are
 * polled by the owner (phase tag), one doorbell write per batch. A failed
 * command is -EIO, its status logged once per controller. No completion
 * for CAP.TO: the I/O fails with -EIO and the queue pair is unusable.
 *
 * One owner (dev/nvme_queue.h): a queue pair is its creating thread's;
 * only it submits, polls and destroys it, and the queue pair takes no
 * lock. Sharing one needs the caller's lock. Create and destroy take the
 * controller's admin lock.
 *
 * fork: the child closes its copies of the controller's descriptors and
 * never has BAR0 or the DMA memory mapped (MADV_DONTFORK); it must send
 * its files to the kernel (preload does). exit: the owner shuts the
 * controller down (CC.SHN) and disables it (CC.EN = 0).
 */
#ifndef ACCEL_DEV_NVME_VFIO_H
#define ACCEL_DEV_NVME_VFIO_H

#include "nvme.h"

extern const struct dev_nvme_transport_ops dev_nvme_vfio_ops;

/* Where the lock of a controller lives. */
#define DEV_NVME_VFIO_LOCK_DIR "/run/libaccel"

#endif
