/*
 * signals.h - which signal cut a shim wait short, so a blocking call is
 * restarted by the kernel's rule: the handler of the signal that arrived
 * decides (signal(7), "Interruption of system calls and library functions
 * by signal handlers").
 */
#ifndef ACCEL_PRELOAD_SIGNALS_H
#define ACCEL_PRELOAD_SIGNALS_H

/* Before a wait that a signal may interrupt: forget earlier signals. */
void sig_watch(void);

/* After that wait returned EINTR: 1 when the kernel would have restarted
 * the call (every handler that ran had SA_RESTART), 0 for EINTR. */
int sig_restarts(void);

/* Once the port is up: a signal the program leaves at SIG_DFL, and whose
 * default ends the process, first closes the bypass connections
 * (signals.c says how). */
void sig_exit_arm(void);
/* The closing itself (sockets.h sk_net_die), for sigguard.c too. */
int sig_close_all(int crash);

#endif
