package dev.ferry.registry;

/**
 * Owner to registry: connection {@code id} is released: both sockets closed, every buffer it held released,
 * its timers cancelled.
 *
 * @param buffersStillHeld buffers the connection's ledger still counted when it finished; anything but 0 is a leak
 */
public record ReleaseAck(long id, int buffersStillHeld) {
}
