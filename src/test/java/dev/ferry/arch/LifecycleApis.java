package dev.ferry.arch;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.AccessTarget;
import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaFieldAccess;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOutboundInvoker;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;

import java.util.List;
import java.util.Set;

/**
 * The APIs Ferry's lifecycle reserves to one place, as predicates over ArchUnit's accesses (method calls, method
 * references and field accesses; a lambda's accesses belong to the method that declares it), and the condition
 * "only from these call sites".
 */
final class LifecycleApis {

  private static final Set<String> CLOSE_METHODS = Set.of("close", "disconnect");
  private static final Set<String> UNSAFE_CLOSE_METHODS = Set.of("close", "closeForcibly", "disconnect");
  private static final Set<String> CLOSE_LISTENERS = Set.of("CLOSE", "CLOSE_ON_FAILURE");
  private static final Set<String> UTIL_RELEASE_METHODS = Set.of("release", "safeRelease", "releaseLater");
  private static final Set<String> RETAIN_METHODS = Set.of("retain", "retainedDuplicate", "retainedSlice");

  /**
   * Closes a Netty channel: {@code close}/{@code disconnect} on anything that can close one ({@code Channel},
   * {@code ChannelHandlerContext}, {@code ChannelPipeline}: all {@link ChannelOutboundInvoker}s), the same through
   * {@link Channel.Unsafe} (with {@code closeForcibly}), or Netty's {@link ChannelFutureListener#CLOSE} and
   * {@link ChannelFutureListener#CLOSE_ON_FAILURE}, which close when a future completes.
   */
  static final DescribedPredicate<JavaAccess<?>> CLOSES_A_CHANNEL = DescribedPredicate.describe(
    "closes a Netty channel (close/disconnect on a Channel, ChannelHandlerContext or pipeline; Channel.Unsafe's "
      + "close/closeForcibly; ChannelFutureListener.CLOSE or CLOSE_ON_FAILURE)",
    access -> {
      AccessTarget t = access.getTarget();
      JavaClass owner = t.getOwner();
      if (access instanceof JavaFieldAccess) {
        return owner.isEquivalentTo(ChannelFutureListener.class) && CLOSE_LISTENERS.contains(t.getName());
      }
      return (CLOSE_METHODS.contains(t.getName()) && owner.isAssignableTo(ChannelOutboundInvoker.class))
        || (UNSAFE_CLOSE_METHODS.contains(t.getName()) && owner.isAssignableTo(Channel.Unsafe.class));
    });

  /** {@code release()} or {@code release(int)} on a {@link ReferenceCounted} ({@code ByteBuf}, a holder...). */
  static final DescribedPredicate<JavaAccess<?>> RELEASES_A_REFERENCE = DescribedPredicate.describe(
    "calls release() on a ReferenceCounted (ByteBuf, ByteBufHolder...)",
    access -> !(access instanceof JavaFieldAccess) && access.getTarget().getName().equals("release")
      && access.getTarget().getOwner().isAssignableTo(ReferenceCounted.class));

  /** Netty's helper that releases whatever it is given, if it is reference counted. */
  static final DescribedPredicate<JavaAccess<?>> RELEASES_THROUGH_UTIL = DescribedPredicate.describe(
    "calls ReferenceCountUtil.release/safeRelease/releaseLater",
    access -> !(access instanceof JavaFieldAccess)
      && access.getTarget().getOwner().isEquivalentTo(ReferenceCountUtil.class)
      && UTIL_RELEASE_METHODS.contains(access.getTarget().getName()));

  /** Takes a second reference: each one is a release someone must remember. */
  static final DescribedPredicate<JavaAccess<?>> RETAINS_A_REFERENCE = DescribedPredicate.describe(
    "takes another reference (retain, retainedDuplicate, retainedSlice, ReferenceCountUtil.retain)",
    access -> !(access instanceof JavaFieldAccess) && RETAIN_METHODS.contains(access.getTarget().getName())
      && (access.getTarget().getOwner().isAssignableTo(ReferenceCounted.class)
        || access.getTarget().getOwner().isEquivalentTo(ReferenceCountUtil.class)));

  /** Writes a field of a registry entry. */
  static final DescribedPredicate<JavaAccess<?>> WRITES_A_REGISTRY_ENTRY = DescribedPredicate.describe(
    "writes a field of ConnectionTable.Entry (state, reason, side, detail...)",
    access -> access instanceof JavaFieldAccess f && f.getAccessType() == JavaFieldAccess.AccessType.SET
      && f.getTarget().getOwner().getName().equals(CallSites.CONNECTION_TABLE_ENTRY));

  private static final Set<String> TABLE_MOVES = Set.of("open", "requestClose", "released", "overdue", "routeFinal");

  /** Moves a connection between the registry's states (overdue marks a late one reported). */
  static final DescribedPredicate<JavaAccess<?>> MOVES_A_REGISTRY_ENTRY = DescribedPredicate.describe(
    "calls ConnectionTable.open/requestClose/released/overdue/routeFinal",
    access -> !(access instanceof JavaFieldAccess)
      && access.getTarget().getOwner().getName().equals(CallSites.CONNECTION_TABLE)
      && TABLE_MOVES.contains(access.getTarget().getName()));

  /**
   * No access matching {@code api} except from {@code sites}; {@code listName} is the {@link CallSites} list a new
   * legitimate site would go to. The event names the caller, the callee and the line.
   */
  static ArchCondition<JavaClass> onlyFrom(DescribedPredicate<JavaAccess<?>> api, List<CallSites.Site> sites,
                                           String listName) {
    return new ArchCondition<>("not " + api.getDescription() + " except from " + sites) {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        for (JavaAccess<?> a : c.getAccessesFromSelf()) {
          if (api.test(a) && sites.stream().noneMatch(s -> s.allows(a.getOrigin()))) {
            events.add(SimpleConditionEvent.violated(a, a.getDescription() + (sites.isEmpty() ? ": allowed nowhere"
              : ": not an allowed call site (allowed: " + sites + "; see CallSites." + listName + ")")));
          }
        }
      }
    };
  }

  /**
   * Every site of {@code sites} still does what it is allowed to do: a stale entry (a renamed method, a close moved
   * elsewhere) would silently allow a future call in a method that should not have one.
   */
  static void assertEverySiteUsed(JavaClasses classes, DescribedPredicate<JavaAccess<?>> api,
                                  List<CallSites.Site> sites, String listName) {
    for (CallSites.Site site : sites) {
      boolean used = classes.stream()
        .flatMap(c -> c.getAccessesFromSelf().stream())
        .anyMatch(a -> api.test(a) && site.allows(a.getOrigin()));
      if (!used) {
        throw new AssertionError("CallSites." + listName + " allows " + site + " (" + site.why() + "), which no longer "
          + api.getDescription() + ": update or remove the entry");
      }
    }
  }

  private LifecycleApis() {
  }
}
