package dev.ferry.registry;

/** Registry to owner: release connection {@code id} now, for the winning reason. Sent at most once per id. */
public record ReleaseOrder(long id, CloseReason reason, Side side) {
}
