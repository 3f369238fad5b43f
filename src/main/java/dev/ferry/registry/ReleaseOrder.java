package dev.ferry.registry;

import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;

/** Registry to owner: release connection {@code id} now, for the winning reason. Sent at most once per id. */
public record ReleaseOrder(long id, CloseReason reason, Side side) {
}
