#!/bin/bash
# t_nvme_guest.sh - the guest tests (tests/guest/run.sh: one QEMU guest
# with an NVMe subsystem of two controllers, booted once, every g_*.sh part
# run in it). make check-nvme runs the same alone.
exec "$(dirname "$0")/../guest/run.sh"
