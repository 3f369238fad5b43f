package dev.ferry.upstream;

import dev.ferry.config.BalanceAlgorithm;

import java.util.ArrayList;
import java.util.List;

/**
 * One configuration of a pool, immutable: its upstreams by slot (0..63, the bit of each in every set the pool
 * computes), their weights, their configured order and the algorithm. A reload builds a new one and publishes it
 * whole; an upstream that stays keeps its slot, so a client's {@link Tried} set stays meaningful across a reload.
 */
final class Members {

  static final int MAX_SLOTS = 64;

  final BalanceAlgorithm algorithm;
  /** Indexed by slot; null where no upstream. */
  final Upstream[] bySlot;
  /** Indexed by slot. */
  final int[] weight;
  /** Slots in configured order. */
  final int[] order;
  /** The set of slots in use. */
  final long present;

  /**
   * @param upstreams in configured order, each with its own slot
   * @param weights   the weight of each, in the same order
   */
  Members(BalanceAlgorithm algorithm, List<Upstream> upstreams, int[] weights) {
    if (upstreams.isEmpty() || upstreams.size() > MAX_SLOTS || weights.length != upstreams.size()) {
      throw new IllegalArgumentException("1 to " + MAX_SLOTS + " upstreams with a weight each, got "
        + upstreams.size() + " and " + weights.length + " weights");
    }
    this.algorithm = algorithm;
    this.bySlot = new Upstream[MAX_SLOTS];
    this.weight = new int[MAX_SLOTS];
    this.order = new int[upstreams.size()];
    long slots = 0;
    for (int i = 0; i < order.length; i++) {
      Upstream u = upstreams.get(i);
      int s = u.slot();
      if ((slots & 1L << s) != 0) {
        throw new IllegalArgumentException("slot " + s + " used twice");
      }
      slots |= 1L << s;
      bySlot[s] = u;
      weight[s] = weights[i];
      order[i] = s;
    }
    this.present = slots;
  }

  int size() {
    return order.length;
  }

  /** The upstreams in configured order. */
  List<Upstream> list() {
    List<Upstream> list = new ArrayList<>(order.length);
    for (int s : order) {
      list.add(bySlot[s]);
    }
    return list;
  }

  /** The upstream with this label, or null. */
  Upstream byLabel(String label) {
    for (int s : order) {
      if (bySlot[s].label().equals(label)) {
        return bySlot[s];
      }
    }
    return null;
  }

  /** The sum of the weights of the slots in {@code set}. */
  int totalWeight(long set) {
    int total = 0;
    for (long bits = set; bits != 0; bits &= bits - 1) {
      total += weight[Long.numberOfTrailingZeros(bits)];
    }
    return total;
  }
}
