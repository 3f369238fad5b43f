package dev.ferry.registry;

import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;

/**
 * "This connection should end": the only thing a fault site does. Sent to the registry shard that owns
 * {@code id}; the first request for an id wins, every later one is a prevented double free.
 *
 * @param detail free text for the log (an exception message); never used as a label
 */
public record CloseRequest(long id, CloseReason reason, Side side, String detail) {
}
