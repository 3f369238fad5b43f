package dev.ferry.registry;

/**
 * Owner to registry: the connection's route is final now ({@link ConnectionInfo#route()}). Sent once, for a
 * connection opened on an address that several routes share, when its ClientHello chose among them; before any
 * later close request or acknowledgement for the id (one sender, so the event bus keeps the order).
 */
public record RouteChosen(long id) {
}
