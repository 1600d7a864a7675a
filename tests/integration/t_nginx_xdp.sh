#!/bin/bash
# t_nginx.sh on net_af_xdp: nginx master_process on with 2 workers on a
# 2-queue veth, each worker an XDP socket on its own queue of it.
PORT=xdp WORKERS=2 exec bash "$(dirname "$0")/t_nginx.sh"
