package dev.ferry.proxy;

import dev.ferry.config.RouteOptions;
import dev.ferry.metrics.RouteMeters;
import dev.ferry.registry.ConnectionInfo;
import dev.ferry.registry.ReleaseOrder;
import dev.ferry.upstream.Upstream;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLSession;
import java.net.InetSocketAddress;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One proxied connection's life: the client channel, its upstream channel, the two {@link Relay}s between them (one
 * per direction) and their timers. Every event of the connection has its one place here.
 *
 * <h2>States</h2>
 * <pre>
 *  PREAMBLE ──PROXY header, ClientHello or TLS handshake done (routes that have one)──► CONNECTING
 *  CONNECTING ──connected──► ESTABLISHED ──client FIN──► CLIENT_FIN   ──both directions ended──► CLOSED_IN_ORDER
 *      │  (a client FIN here      │      ──upstream FIN──► UPSTREAM_FIN ──both directions ended──►      │
 *      │   waits for the connect) │                                                                     │
 *      └──────────────┴─── release order (any fault, timer, kill, shutdown) ───┴────────────────────────┴─► RELEASING
 *                                                                                 RELEASING ──both closed──► RELEASED
 * </pre>
 * A direction ends when its source's FIN has arrived and every byte read before it was written to the sink, followed
 * by Ferry's FIN ({@link Relay}). The connection ended in order when both directions did ({@code close.half-close:
 * false}: when the first did); only then is {@code PEER_CLOSED} published, blaming the side whose FIN came first.
 *
 * <h2>Transitions (stage × event → what happens)</h2>
 * <table>
 *   <tr><th>stage</th><th>event</th><th>action</th><th>next</th></tr>
 *   <tr><td>PREAMBLE</td><td>PROXY header</td><td>its address is the client (log, limits, source-hash)</td>
 *       <td>PREAMBLE</td></tr>
 *   <tr><td>PREAMBLE</td><td>ClientHello chose a route</td><td>the connection becomes the route's: its relay,
 *       meters, pool</td><td>PREAMBLE</td></tr>
 *   <tr><td>PREAMBLE</td><td>TLS handshake done</td><td>protocol, cipher, server name recorded</td>
 *       <td>PREAMBLE</td></tr>
 *   <tr><td>PREAMBLE</td><td>every step done</td><td>the route's admission (per source after a header); the
 *       registry counts a shared address's route; the first connect</td><td>CONNECTING</td></tr>
 *   <tr><td>PREAMBLE</td><td>timeout, malformed, truncated, too large, no route; a TLS failure</td><td>publish
 *       PROTOCOL_ERROR or TLS_ERROR (counted by cause, once)</td><td>PREAMBLE</td></tr>
 *   <tr><td>CONNECTING</td><td>connected</td><td>link the relays; early bytes and an early FIN go on</td>
 *       <td>ESTABLISHED, CLIENT_FIN after an early FIN</td></tr>
 *   <tr><td>CONNECTING</td><td>connect failed (or its TLS handshake)</td><td>next attempt, or publish
 *       CONNECT_FAILED / CONNECT_TIMEOUT / TLS_ERROR (upstream)</td>
 *       <td>CONNECTING</td></tr>
 *   <tr><td>CONNECTING</td><td>client FIN</td><td>recorded; the relay holds it until connected</td>
 *       <td>CONNECTING</td></tr>
 *   <tr><td>ESTABLISHED</td><td>FIN from a side</td><td>that direction ends; the half-closed timer starts</td>
 *       <td>CLIENT_FIN / UPSTREAM_FIN</td></tr>
 *   <tr><td>*_FIN</td><td>a direction ended</td><td>when both have (or half-close is off): publish PEER_CLOSED</td>
 *       <td>CLOSED_IN_ORDER</td></tr>
 *   <tr><td>ESTABLISHED, *_FIN</td><td>sweep</td><td>publish IDLE_TIMEOUT, or HALF_CLOSED_TIMEOUT in *_FIN</td>
 *       <td>same</td></tr>
 *   <tr><td>below RELEASING</td><td>read error, failed write, overflow, closed</td><td>publish its reason</td>
 *       <td>same</td></tr>
 *   <tr><td>below RELEASING</td><td>release order</td><td>relays drop; abort a pending connect; close both after
 *       their flush (forced after {@code close.flush-timeout})</td><td>RELEASING</td></tr>
 *   <tr><td>RELEASING</td><td>the last channel closed</td><td>acknowledge to the registry</td><td>RELEASED</td></tr>
 *   <tr><td>RELEASING, RELEASED</td><td>release order</td><td>a detected double free</td><td>same</td></tr>
 *   <tr><td>RELEASING, RELEASED</td><td>any other event</td><td>nothing: the release's own consequence</td>
 *       <td>same</td></tr>
 * </table>
 * Invariants: fault sites only publish ({@link #fault}); nothing but {@link #release} closes a channel, once, when the
 * registry orders it (Netty's PROXY header decoder and TLS engine close theirs on a malformed header or a failed
 * handshake, which the release then finds closed); the acknowledgement is sent once, when no channel is open and no
 * connect is in flight. No upstream is dialled before the preamble is done: the header names the client that
 * {@code source-hash} hashes, the ClientHello the route whose pool serves it, and a client that fails its handshake
 * costs no upstream a connection (HAProxy and nginx also connect after the handshake).
 * <p>
 * Threading: every method runs on the owning listener's event loop, which both channels share.
 */
final class ProxyConnection implements RelayEvents, PreambleEvents {

  private static final Logger log = LoggerFactory.getLogger(ProxyConnection.class);

  enum Stage { PREAMBLE, CONNECTING, ESTABLISHED, CLIENT_FIN, UPSTREAM_FIN, CLOSED_IN_ORDER, RELEASING, RELEASED }

  private final long id;
  private final ListenerVerticle owner;
  // The route: final at accept, but on an address several routes share the ClientHello may change it (routeChosen).
  private ListenerVerticle.Served served;
  private RouteOptions route;
  private RouteMeters meters;
  private final Channel client;
  private final ConnectionInfo info;
  /** The client's IP address: what the limits count and {@code source-hash} hashes (a PROXY header's, if any). */
  private String source;
  /** The client and the address it connected to, as a PROXY header named them; null: the socket's own. */
  private InetSocketAddress headerClient;
  private InetSocketAddress headerDestination;
  /** What the connection took of the limits, given back at the release. */
  private final Admission admission;
  /** The preamble's handler while it runs (null for a route without one). */
  private final PreambleHandler preamble;
  /** The route is chosen after the accept (a shared address): the registry is told when it is. */
  private final boolean routeLate;
  /** A fault was published: a later preamble failure is the release's consequence, neither counted nor published. */
  private boolean endPublished;
  private Relay up;
  private Relay down;
  private Channel upstream;
  private final UpstreamDialer dialer;
  private Stage stage;
  /** The side whose FIN came first, or null. */
  private Side firstFin;
  private boolean clientClosed;
  private boolean upstreamClosed;
  /** The flush bound of the release: a Netty task on this loop (a Vert.x timer would add a context close hook each). */
  private ScheduledFuture<?> forceCloseTimer;
  private final ConnectionSweep sweepState = new ConnectionSweep();

  /**
   * @param client the accepted channel, registered on the owner's event loop and not reading yet: its pipeline gets
   *               the route's preamble, if any, and the client-to-upstream {@link Relay}, which starts reading once the
   *               upstream connects
   * @param served the route (on a shared address: its lead, until the ClientHello chooses)
   */
  ProxyConnection(long id, ListenerVerticle owner, Listening address, ListenerVerticle.Served served,
                  Channel client, ConnectionInfo info, String source, Admission admission) {
    this.id = id;
    this.owner = owner;
    this.served = served;
    this.route = served.route.options();
    this.meters = served.route.meters();
    this.client = client;
    this.info = info;
    this.source = source;
    this.admission = admission;
    this.routeLate = address.shared();
    this.dialer = new UpstreamDialer(this, owner);
    this.preamble = PreambleHandler.install(this, client, address, served);
    this.up = newRelay(Direction.UPSTREAM);
    client.pipeline().addLast(up);
    stage(preamble != null ? Stage.PREAMBLE : Stage.CONNECTING);
    client.closeFuture().addListener(f -> channelGone(Side.CLIENT));
  }

  Relay newRelay(Direction direction) {
    return new Relay(id, direction, this, owner.ledger(), meters, route.buffer().hardLimit(), served.splice);
  }

  long id() {
    return id;
  }

  /** The connected upstream channel, or null (tests look at it). */
  Channel upstreamChannel() {
    return upstream;
  }

  Stage stage() {
    return stage;
  }

  String source() {
    return source;
  }

  Admission admission() {
    return admission;
  }

  /** Starts the preamble, or the first connect when the route has none. */
  void start() {
    if (preamble != null) {
      preamble.start();
    } else {
      connect();
    }
  }

  boolean releasing() {
    return stage.compareTo(Stage.RELEASING) >= 0;
  }

  // ---- connect ----------------------------------------------------------------------------------------------

  private void connect() {
    dialer.dial(served, source);
  }

  /** The client for the upstream's PROXY header: a received header's, else the socket's peer. */
  InetSocketAddress headerClient() {
    return headerClient != null ? headerClient : (InetSocketAddress) client.remoteAddress();
  }

  /** The address the client connected to, for the upstream's PROXY header: a received header's, else the socket's. */
  InetSocketAddress headerDestination() {
    return headerDestination != null ? headerDestination : (InetSocketAddress) client.localAddress();
  }

  /** The dialer's success: link the relays; an early FIN of the client goes on now. */
  void upstreamConnected(Channel ch, Relay relay, Upstream u, int attempt, long nowNanos) {
    upstream = ch;
    down = relay;
    upstream.closeFuture().addListener(c -> channelGone(Side.UPSTREAM));
    info.upstream(u.label());
    info.connected(nowNanos - info.openedAtNanos());
    stage(firstFin == Side.CLIENT ? Stage.CLIENT_FIN : Stage.ESTABLISHED);
    sweepState.restart(nowNanos);
    up.connect(upstream, down);
    down.connect(client, up);
    if (log.isDebugEnabled()) {
      log.debug("conn={} connected to {} (attempt {})", id, u, attempt);
    }
  }

  /** An attempt the release aborted ended, or one that won the race connected ({@code ch}): closed all the same. */
  void connectedTooLate(Channel ch) {
    if (ch != null) {
      ch.close();
    }
    maybeFinish();
  }

  // ---- the preamble: one place per event ----------------------------------------------------------------------

  @Override
  public void proxyHeader(InetSocketAddress headerClient, InetSocketAddress destination) {
    if (releasing() || headerClient == null) {
      return;
    }
    this.headerClient = headerClient;
    this.headerDestination = destination;
    source = headerClient.getAddress().getHostAddress();
    info.client(FaultText.hostPort(headerClient));
  }

  @Override
  public void routeChosen(ListenerVerticle.Served chosen, String serverName) {
    if (releasing()) {
      return;
    }
    info.serverName(serverName);
    if (chosen != served) {
      served = chosen;
      route = chosen.route.options();
      meters = chosen.route.meters();
      // Nothing was read into the lead route's relay yet (the ClientHello reader holds the bytes): a new one, with
      // the chosen route's limits and splice, takes its place.
      Relay lead = up;
      up = newRelay(Direction.UPSTREAM);
      client.pipeline().replace(lead, null, up);
      info.route(chosen.route.name());
    }
  }

  @Override
  public void tlsEstablished(SSLSession session) {
    info.tls(session.getProtocol() + " " + session.getCipherSuite());
    info.serverName(FaultText.serverName(session));
  }

  @Override
  public void preambleDone() {
    if (releasing()) {
      return;
    }
    stage(Stage.CONNECTING);
    if (routeLate) {
      owner.routeChosen(id);
    }
    String refusal = admission.routeAdmitted() ? null
      : admission.admitRemaining(served.route.limits(), source, served.keys);
    if (refusal != null) {
      fault(CloseReason.LIMIT, Side.PROXY, refusal);
      return;
    }
    if (log.isDebugEnabled()) {
      log.debug("conn={} preamble done: client {}, route {}", id, info.client(), route.name());
    }
    connect();
  }

  @Override
  public void protocolError(ProtocolErrorCause cause, String detail) {
    if (releasing() || endPublished) {
      return;
    }
    meters.protocolError(cause);
    fault(CloseReason.PROTOCOL_ERROR, Side.CLIENT, cause.label() + ": " + detail);
  }

  @Override
  public void tlsError(Side side, TlsErrorCause cause, String detail) {
    if (releasing() || endPublished) {
      return;
    }
    meters.tlsError(side, cause);
    fault(CloseReason.TLS_ERROR, side, cause.label() + ": " + detail);
  }

  // ---- the in-order end -------------------------------------------------------------------------------------

  @Override
  public void finReceived(Side side) {
    if (releasing()) {
      return;
    }
    if (firstFin == null) {
      firstFin = side;
      sweepState.restart(System.nanoTime());
      if (stage == Stage.ESTABLISHED) {
        stage(side == Side.CLIENT ? Stage.CLIENT_FIN : Stage.UPSTREAM_FIN);
      }
    }
    if (log.isDebugEnabled()) {
      log.debug("conn={} FIN from the {} ({})", id, side.label(), stage);
    }
  }

  @Override
  public boolean finNeeded(Direction direction) {
    Relay other = direction == Direction.UPSTREAM ? down : up;
    return route.close().halfClose() && other.mode() != Relay.Mode.ENDED;
  }

  @Override
  public void ended(Direction direction) {
    if (releasing() || stage == Stage.CLOSED_IN_ORDER) {
      return;
    }
    boolean both = up.mode() == Relay.Mode.ENDED && down.mode() == Relay.Mode.ENDED;
    if (!both && route.close().halfClose()) {
      return;
    }
    stage(Stage.CLOSED_IN_ORDER);
    Side other = firstFin == Side.CLIENT ? Side.UPSTREAM : Side.CLIENT;
    owner.requestClose(id, CloseReason.PEER_CLOSED, firstFin, both
      ? "closed in order: the " + firstFin.label() + " sent its FIN first, then the " + other.label()
      : "closed in order: the " + firstFin.label() + " sent its FIN (half-close off)");
  }

  // ---- fault sites: publish only ----------------------------------------------------------------------------

  /** Publishes a close request, unless the release already began (then the event is its own consequence). */
  void fault(CloseReason reason, Side side, String detail) {
    if (releasing()) {
      if (log.isDebugEnabled()) {
        log.debug("conn={} {} on {} during release: not published", id, reason, side.label());
      }
      return;
    }
    endPublished = true;
    owner.requestClose(id, reason, side, detail);
  }

  @Override
  public void readFailed(Side side, Throwable cause) {
    if (!(cause instanceof java.io.IOException) && !releasing()) {
      // Not a socket error: where it came from is the diagnosis (a runtime exception from the read path or a handler).
      log.warn("conn={} {} on the {} while reading", id, cause.getClass().getSimpleName(), side.label(), cause);
    }
    fault(FaultText.classify(cause), side, FaultText.describe(cause));
  }

  @Override
  public void writeFailed(Side sink, Throwable cause) {
    // A reset noticed by a write is still a reset: the reason names the cause, the detail the operation.
    CloseReason reason = FaultText.classify(cause) == CloseReason.PEER_RESET ? CloseReason.PEER_RESET
      : CloseReason.WRITE_FAILED;
    fault(reason, sink, "write: " + FaultText.describe(cause));
  }

  @Override
  public void overflow(Side sink, long queuedBytes) {
    fault(CloseReason.OVERFLOW, sink, queuedBytes + " bytes queued for the " + sink.label()
      + ", hard limit " + route.buffer().hardLimit());
  }

  @Override
  public void closed(Side side) {
    fault(CloseReason.PEER_CLOSED, side, "connection closed");
  }

  /**
   * Called by the listener's sweep: byte metrics, and the timers of an open connection. Quiet means no byte moved
   * either way (read, or taken by a sink).
   */
  void sweep(long nowNanos) {
    if (stage == Stage.PREAMBLE || stage == Stage.CONNECTING || stage.compareTo(Stage.CLOSED_IN_ORDER) >= 0) {
      return;
    }
    sweepState.reportBytes(up, down, meters, info);
    ConnectionSweep.End end = sweepState.check(nowNanos, up, down, firstFin, route);
    if (end != null) {
      fault(end.reason(), end.side(), end.detail());
    }
  }

  // ---- the one release --------------------------------------------------------------------------------------

  /** Executes the registry's release order. Runs at most once; a second call is a detected double free. */
  void release(ReleaseOrder order) {
    if (releasing()) {
      owner.releaseRanTwice(id, order);
      return;
    }
    stage(Stage.RELEASING);
    if (preamble != null) {
      preamble.release();
    }
    up.release();
    if (down != null) {
      down.release();
    }
    // Armed first: a channel whose output is shut already closes at once, and the release may finish right here.
    forceCloseTimer = client.eventLoop().schedule(this::forceClose, route.close().flushTimeout().toNanos(),
      TimeUnit.NANOSECONDS);
    Channel connecting = dialer.inFlight();
    if (connecting != null) {
      // Nobody waits for this upstream any more: the failed connect ends the attempt (connectedTooLate).
      connecting.close();
    }
    closeAfterFlush(client);
    if (upstream != null) {
      closeAfterFlush(upstream);
    }
    maybeFinish();
  }

  /** Closes {@code ch} once everything written to it so far is flushed ("close on flush"). */
  private static void closeAfterFlush(Channel ch) {
    if (ch.isOpen()) {
      ch.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(f -> ch.close());
    }
  }

  /** The peers did not take the queued bytes within the flush timeout: close the channels without flushing. */
  private void forceClose() {
    forceCloseTimer = null;
    if (stage == Stage.RELEASED) {
      return;
    }
    log.warn("conn={} queued writes not flushed within {} ms; closing without flush", id,
      route.close().flushTimeout().toMillis());
    closeChannelsNow();
  }

  /**
   * Closes whatever channel is still open, without flushing (queued writes fail, and Netty releases their buffers);
   * their close events finish the release. Used by the release's flush bound and the listener's shutdown backstop.
   */
  void closeChannelsNow() {
    client.close();
    if (upstream != null) {
      upstream.close();
    }
  }

  private void channelGone(Side side) {
    if (side == Side.CLIENT) {
      clientClosed = true;
    } else {
      upstreamClosed = true;
    }
    maybeFinish();
  }

  private void maybeFinish() {
    if (stage != Stage.RELEASING || !clientClosed || dialer.inFlight() != null
      || (upstream != null && !upstreamClosed)) {
      return;
    }
    stage(Stage.RELEASED);
    if (forceCloseTimer != null) {
      forceCloseTimer.cancel(false);
      forceCloseTimer = null;
    }
    sweepState.reportBytes(up, down, meters, info);
    dialer.released();
    owner.released(this, up.held() + (down == null ? 0 : down.held()));
  }

  private void stage(Stage next) {
    stage = next;
    info.stage(next.name());
  }

}
