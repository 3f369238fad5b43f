package dev.ferry.arch;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.AccessTarget;
import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaConstructor;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What a method reaches through Ferry's own code: its accesses, then those of every Ferry method or constructor it
 * calls or references, transitively (a lambda belongs to the method that declares it). A call to a Ferry method that
 * subclasses override also reaches the overrides, as dispatch might. Calls into libraries are leaves: their own
 * accesses are not followed. Static initializers are not followed.
 */
final class CallGraph {

  private static final String FERRY = "dev.ferry.";

  /** One access reached from the start, with the chain of Ferry code units that led to it. */
  record Reached(List<JavaCodeUnit> chain, JavaAccess<?> access) {
    String describe() {
      StringBuilder sb = new StringBuilder();
      for (JavaCodeUnit u : chain) {
        sb.append(sb.length() == 0 ? "" : " -> ").append(u.getOwner().getSimpleName()).append('.').append(u.getName());
      }
      return sb + ": " + access.getDescription();
    }
  }

  /**
   * Every access reachable from {@code start}, each with the shortest chain that reaches it; an access matching
   * {@code stop} is listed but not followed (one report per offending access, not one per step below it).
   */
  static List<Reached> reach(JavaCodeUnit start, DescribedPredicate<? super JavaAccess<?>> stop) {
    List<Reached> out = new ArrayList<>();
    Map<JavaCodeUnit, JavaCodeUnit> parent = new HashMap<>();
    Deque<JavaCodeUnit> queue = new ArrayDeque<>();
    parent.put(start, null);
    queue.add(start);
    while (!queue.isEmpty()) {
      JavaCodeUnit unit = queue.poll();
      List<JavaCodeUnit> chain = chain(unit, parent);
      for (JavaAccess<?> a : unit.getAccessesFromSelf()) {
        out.add(new Reached(chain, a));
        if (stop.test(a)) {
          continue;
        }
        for (JavaCodeUnit next : targets(a)) {
          if (!parent.containsKey(next)) {
            parent.put(next, unit);
            queue.add(next);
          }
        }
      }
    }
    return out;
  }

  private static List<JavaCodeUnit> chain(JavaCodeUnit unit, Map<JavaCodeUnit, JavaCodeUnit> parent) {
    List<JavaCodeUnit> chain = new ArrayList<>();
    for (JavaCodeUnit u = unit; u != null; u = parent.get(u)) {
      chain.add(0, u);
    }
    return chain;
  }

  /** The Ferry code units an access may run: the resolved target and its overrides in Ferry's subclasses. */
  private static Set<JavaCodeUnit> targets(JavaAccess<?> access) {
    Set<JavaCodeUnit> units = new LinkedHashSet<>();
    if (!(access.getTarget() instanceof AccessTarget.CodeUnitAccessTarget target)
      || !target.getOwner().getName().startsWith(FERRY)) {
      return units;
    }
    Optional<? extends JavaCodeUnit> resolved = target.resolveMember();
    resolved.ifPresent(units::add);
    if (!target.getName().equals(JavaConstructor.CONSTRUCTOR_NAME)) {
      List<String> params = target.getRawParameterTypes().stream().map(JavaClass::getName).toList();
      for (JavaClass sub : target.getOwner().getAllSubclasses()) {
        sub.tryGetCodeUnitWithParameterTypeNames(target.getName(), params).ifPresent(units::add);
      }
    }
    return units;
  }

  /** The methods never reach an access matching {@code forbidden} through Ferry's code. */
  static ArchCondition<JavaCodeUnit> neverReach(DescribedPredicate<JavaAccess<?>> forbidden) {
    return new ArchCondition<>("never reach, through Ferry's code, what " + forbidden.getDescription()) {
      @Override
      public void check(JavaCodeUnit start, ConditionEvents events) {
        for (Reached r : reach(start, forbidden)) {
          if (forbidden.test(r.access())) {
            events.add(SimpleConditionEvent.violated(start, "via " + r.describe()));
          }
        }
      }
    };
  }

  /** The methods reach an access matching {@code wanted} through Ferry's code. */
  static ArchCondition<JavaCodeUnit> reach(DescribedPredicate<JavaAccess<?>> wanted) {
    return new ArchCondition<>("reach, through Ferry's code, what " + wanted.getDescription()) {
      @Override
      public void check(JavaCodeUnit start, ConditionEvents events) {
        boolean found = reach(start, DescribedPredicate.alwaysFalse()).stream().anyMatch(r -> wanted.test(r.access()));
        events.add(new SimpleConditionEvent(start, found, start.getFullName()
          + (found ? " reaches" : " never reaches") + " what " + wanted.getDescription()));
      }
    };
  }

  private CallGraph() {
  }
}
