package dev.ferry.arch;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.AccessTarget;
import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaFieldAccess;
import com.tngtech.archunit.core.domain.JavaMethod;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

import java.util.List;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.methods;
import static dev.ferry.arch.CallSites.BUFFER_LEDGER;
import static dev.ferry.arch.CallSites.FAULTS;
import static dev.ferry.arch.CallSites.LISTENER_VERTICLE;
import static dev.ferry.arch.CallSites.PROXY_CONNECTION;
import static dev.ferry.arch.CallSites.RELAY;
import static dev.ferry.arch.LifecycleApis.CLOSES_A_CHANNEL;
import static dev.ferry.arch.LifecycleApis.MOVES_A_REGISTRY_ENTRY;
import static dev.ferry.arch.LifecycleApis.RELEASES_A_REFERENCE;
import static dev.ferry.arch.LifecycleApis.RELEASES_THROUGH_UTIL;
import static dev.ferry.arch.LifecycleApis.RETAINS_A_REFERENCE;
import static dev.ferry.arch.LifecycleApis.WRITES_A_REGISTRY_ENTRY;
import static dev.ferry.arch.LifecycleApis.assertEverySiteUsed;
import static dev.ferry.arch.LifecycleApis.onlyFrom;

/**
 * Ferry's promise, as rules over its compiled main classes: every connection is closed, and every buffer released,
 * exactly once, because fault sites only publish and one release point closes and releases. The allowed call sites
 * are listed, with their reasons, in {@link CallSites}.
 */
@AnalyzeClasses(packages = "dev.ferry", importOptions = ImportOption.DoNotIncludeTests.class)
class LifecycleRulesTest {

  // ---- 1. only the release point closes a channel -------------------------------------------------------------

  @ArchTest
  static final ArchRule onlyTheReleasePointClosesAProxiedChannel = classes()
    .that().resideInAPackage("dev.ferry..").and().resideOutsideOfPackage("dev.ferry.upstream..")
    .should(onlyFrom(CLOSES_A_CHANNEL, CallSites.CHANNEL_CLOSES, "CHANNEL_CLOSES"))
    .as("Only the release point (ProxyConnection's release, its flush bound and backstop, a connect that lost the "
      + "race) closes a proxied channel; the listener closes only its own listening channel")
    .because("a channel closed where a fault is noticed is closed a second time by the release the registry orders "
      + "(the IOCP double free): fault sites only publish");

  @ArchTest
  static final ArchRule onlyAProbesFinishClosesAHealthCheckChannel = classes()
    .that().resideInAPackage("dev.ferry.upstream..")
    .should(onlyFrom(CLOSES_A_CHANNEL, CallSites.CHECK_CHANNEL_CLOSES, "CHECK_CHANNEL_CLOSES"))
    .as("Only HealthProbe.finish closes a health-check channel")
    .because("finish is a check's one end, guarded to run once: the same discipline as a proxied connection's release");

  // ---- 2. only the ledger releases a buffer --------------------------------------------------------------------

  @ArchTest
  static final ArchRule onlyTheLedgerReleasesAPooledBuffer = classes()
    .that().resideInAPackage("dev.ferry..")
    .should(onlyFrom(RELEASES_A_REFERENCE, CallSites.REFERENCE_RELEASES, "REFERENCE_RELEASES"))
    .as("Only BufferLedger.release calls ByteBuf.release()/ReferenceCounted.release() on a buffer Ferry counts")
    .because("the ledger uncounts the buffer (ferry_buffers_held) and catches a second release as a detected double "
      + "free; a release elsewhere is invisible to both");

  @ArchTest
  static final ArchRule referenceCountUtilReleasesOnlyWhatIsNotFerrysBuffer = classes()
    .that().resideInAPackage("dev.ferry..")
    .should(onlyFrom(RELEASES_THROUGH_UTIL, CallSites.UTIL_RELEASES, "UTIL_RELEASES"))
    .as("ReferenceCountUtil.release only for what is not a buffer Ferry holds: Relay's non-ByteBuf messages and "
      + "events, and a health check's reply")
    .because("it releases anything reference counted without the ledger knowing, so a pooled buffer released "
      + "through it escapes the accounting and the double-free check");

  @ArchTest
  static final ArchRule ferryNeverTakesASecondReference = classes()
    .that().resideInAPackage("dev.ferry..")
    .should(onlyFrom(RETAINS_A_REFERENCE, List.of(), ""))
    .as("Ferry never retains a buffer")
    .because("a buffer is ours with refCnt 1 and its one owner hands it over or releases it once (Relay's ownership "
      + "rules); a retain is a second release someone must remember");

  // ---- 3. fault handlers only publish -------------------------------------------------------------------------

  /** What a fault handler must never reach: a close, a release, a relay, the release point or its acknowledgement. */
  static final DescribedPredicate<JavaAccess<?>> RELEASE_WORK = CLOSES_A_CHANNEL
    .or(RELEASES_A_REFERENCE).or(RELEASES_THROUGH_UTIL)
    .or(callsAny(RELAY, "a Relay method"))
    .or(calls(BUFFER_LEDGER, "release")).or(calls(PROXY_CONNECTION, "release"))
    .or(calls(PROXY_CONNECTION, "closeChannelsNow"))
    .or(DescribedPredicate.describe("calls a ListenerVerticle method other than " + CallSites.FAULT_MAY_REACH,
      a -> isCall(a) && a.getTarget().getOwner().getName().equals(LISTENER_VERTICLE)
        && CallSites.FAULT_MAY_REACH.stream().noneMatch(s -> s.isTarget(a.getTarget()))))
    .as("closes a channel, releases a reference, touches a Relay, runs or acknowledges a release "
      + "(BufferLedger.release, ProxyConnection.release/closeChannelsNow, ListenerVerticle.released...), or calls a "
      + "ListenerVerticle method other than " + CallSites.FAULT_MAY_REACH);

  static final DescribedPredicate<JavaMethod> FAULT_HANDLERS = DescribedPredicate.describe(
    "implement Faults (readFailed, writeFailed, overflow, closed, protocolError, tlsError) or are "
      + "ProxyConnection.fault",
    m -> !m.getModifiers().contains(JavaModifier.SYNTHETIC) && !m.getModifiers().contains(JavaModifier.BRIDGE)
      && ((m.getOwner().getName().equals(PROXY_CONNECTION) && m.getName().equals("fault")) || implementsFaults(m)));

  @ArchTest
  static final ArchRule faultHandlersOnlyPublish = methods()
    .that(FAULT_HANDLERS)
    .should(CallGraph.neverReach(RELEASE_WORK))
    .as("Fault handlers (Faults' methods, ProxyConnection.fault) only publish: nothing they reach through Ferry's code "
      + "closes, releases, touches a relay or runs the release")
    .because("a fault is noticed on the data path, possibly several times for one connection; only the release the "
      + "registry orders, once, may close and release (fault sites publish, the release point acts)");

  @ArchTest
  static final ArchRule faultHandlersPublishACloseRequest = methods()
    .that(FAULT_HANDLERS)
    .should(CallGraph.reach(calls(LISTENER_VERTICLE, "requestClose")))
    .as("Every fault handler publishes through ListenerVerticle.requestClose")
    .because("a fault that publishes nothing leaves its connection open until a timer notices");

  // ---- 4. only the registry's state machine moves a connection ------------------------------------------------

  @ArchTest
  static final ArchRule onlyTheConnectionTableWritesAnEntrysState = classes()
    .that().resideInAPackage("dev.ferry..")
    .should(onlyFrom(WRITES_A_REGISTRY_ENTRY, CallSites.ENTRY_WRITES, "ENTRY_WRITES"))
    .as("Only ConnectionTable writes ConnectionTable.Entry.state (and the reason, side and detail that win with it)")
    .because("OPEN -> CLOSING -> RELEASED is the registry's state machine: the first close request wins, once");

  @ArchTest
  static final ArchRule onlyTheRegistryMovesAConnection = classes()
    .that().resideInAPackage("dev.ferry..")
    .should(onlyFrom(MOVES_A_REGISTRY_ENTRY, CallSites.TABLE_TRANSITIONS, "TABLE_TRANSITIONS"))
    .as("Only ConnectionRegistryVerticle calls ConnectionTable.open/requestClose/released/overdue")
    .because("the registry shard serialises every message about an id on its event loop: a transition from anywhere "
      + "else races with it");

  // ---- the allow-lists stay honest ----------------------------------------------------------------------------

  @ArchTest
  static void everyAllowedCallSiteStillDoesWhatItIsAllowedTo(JavaClasses classes) {
    assertEverySiteUsed(classes, CLOSES_A_CHANNEL, CallSites.CHANNEL_CLOSES, "CHANNEL_CLOSES");
    assertEverySiteUsed(classes, CLOSES_A_CHANNEL, CallSites.CHECK_CHANNEL_CLOSES, "CHECK_CHANNEL_CLOSES");
    assertEverySiteUsed(classes, RELEASES_A_REFERENCE, CallSites.REFERENCE_RELEASES, "REFERENCE_RELEASES");
    assertEverySiteUsed(classes, RELEASES_THROUGH_UTIL, CallSites.UTIL_RELEASES, "UTIL_RELEASES");
    assertEverySiteUsed(classes, WRITES_A_REGISTRY_ENTRY, CallSites.ENTRY_WRITES, "ENTRY_WRITES");
    assertEverySiteUsed(classes, MOVES_A_REGISTRY_ENTRY, CallSites.TABLE_TRANSITIONS, "TABLE_TRANSITIONS");
  }

  @ArchTest
  static void theFaultHandlersAreFaultsFourMethodsAndFault(JavaClasses classes) {
    List<String> handlers = classes.get(PROXY_CONNECTION).getMethods().stream().filter(FAULT_HANDLERS)
      .map(JavaMethod::getName).sorted().toList();
    List<String> expected = List.of("closed", "fault", "overflow", "protocolError", "readFailed", "tlsError",
      "writeFailed");
    if (!handlers.equals(expected)) {
      throw new AssertionError("rule 3 checks ProxyConnection's fault handlers " + handlers
        + ", expected " + expected + ": update FAULT_HANDLERS and this list");
    }
  }

  // ---- helpers ------------------------------------------------------------------------------------------------

  private static boolean isCall(JavaAccess<?> a) {
    return !(a instanceof JavaFieldAccess) && a.getTarget() instanceof AccessTarget.CodeUnitAccessTarget;
  }

  private static DescribedPredicate<JavaAccess<?>> calls(String owner, String method) {
    return DescribedPredicate.describe("calls " + owner.substring(owner.lastIndexOf('.') + 1) + "." + method,
      a -> isCall(a) && a.getTarget().getOwner().getName().equals(owner) && a.getTarget().getName().equals(method));
  }

  private static DescribedPredicate<JavaAccess<?>> callsAny(String owner, String description) {
    return DescribedPredicate.describe("calls " + description,
      a -> isCall(a) && a.getTarget().getOwner().getName().equals(owner));
  }

  private static boolean implementsFaults(JavaMethod m) {
    JavaClass owner = m.getOwner();
    if (owner.isInterface() || !owner.isAssignableTo(FAULTS)) {
      return false;
    }
    String[] params = m.getRawParameterTypes().stream().map(JavaClass::getName).toArray(String[]::new);
    return owner.getAllRawInterfaces().stream()
      .filter(i -> i.getName().equals(FAULTS))
      .anyMatch(faults -> faults.tryGetMethod(m.getName(), params).isPresent());
  }
}
