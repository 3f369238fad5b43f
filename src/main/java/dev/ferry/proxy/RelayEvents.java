package dev.ferry.proxy;

import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;

/**
 * What a {@link Relay} tells its connection: its {@link Faults}, and the in-order end of its direction, step by step.
 * A FIN is not a fault and never a release by itself: the connection publishes {@code PEER_CLOSED} once both
 * directions ended (or the first, with {@code close.half-close: false}).
 */
interface RelayEvents extends Faults {

  /** {@code side} sent its FIN after its last byte, which has been read. */
  void finReceived(Side side);

  /**
   * Whether {@code direction}'s end must be sent on as a FIN of its own ({@code shutdown(SHUT_WR)}): not when it
   * completes the connection (the other direction ended already, or half-close is off), whose release then closes
   * the socket, which sends the FIN. HAProxy likewise shuts down the first direction and closes on the second.
   */
  boolean finNeeded(Direction direction);

  /** Every byte of {@code direction} was written, and its FIN sent on unless {@link #finNeeded} said not to. */
  void ended(Direction direction);
}
