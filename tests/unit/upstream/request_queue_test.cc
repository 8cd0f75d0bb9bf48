// Request queue specs (request_queue.h): bounded, FIFO, O(1) removal, expiry from the front.
#include "upstream/request_queue.h"

#include <gtest/gtest.h>

#include <memory>

namespace portcullis::upstream {
namespace {

struct Waiter : QueueWaiter {
  explicit Waiter(int id) : id(id) {}
  int id;
};

int idOf(QueueWaiter* w) { return w ? static_cast<Waiter*>(w)->id : -1; }

TEST(RequestQueue, PopsInArrivalOrder) {
  RequestQueue q(4);
  Waiter a(1), b(2), c(3);
  ASSERT_TRUE(q.push(a, 0));
  ASSERT_TRUE(q.push(b, 0));
  ASSERT_TRUE(q.push(c, 0));
  EXPECT_EQ(idOf(q.pop()), 1);
  EXPECT_EQ(idOf(q.pop()), 2);
  EXPECT_EQ(idOf(q.pop()), 3);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(RequestQueue, FullQueueRefusesAndLeavesTheWaiterAlone) {
  RequestQueue q(2);
  Waiter a(1), b(2), c(3);
  ASSERT_TRUE(q.push(a, 0));
  ASSERT_TRUE(q.push(b, 0));
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.push(c, 0));
  EXPECT_FALSE(c.queued());
  EXPECT_EQ(q.size(), 2u);
}

TEST(RequestQueue, ZeroCapacityMeansNoQueue) {
  RequestQueue q(0);
  Waiter a(1);
  EXPECT_FALSE(q.push(a, 0));
}

TEST(RequestQueue, RemoveFromTheMiddleKeepsTheOrder) {
  RequestQueue q(4);
  Waiter a(1), b(2), c(3);
  q.push(a, 0);
  q.push(b, 0);
  q.push(c, 0);
  q.remove(b);
  EXPECT_FALSE(b.queued());
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(idOf(q.pop()), 1);
  EXPECT_EQ(idOf(q.pop()), 3);
}

TEST(RequestQueue, RemovingHeadAndTailLeavesAConsistentList) {
  RequestQueue q(4);
  Waiter a(1), b(2), c(3), d(4);
  q.push(a, 0);
  q.push(b, 0);
  q.push(c, 0);
  q.remove(a);
  q.remove(c);
  ASSERT_TRUE(q.push(d, 0));  // appends after b, the new tail
  EXPECT_EQ(idOf(q.pop()), 2);
  EXPECT_EQ(idOf(q.pop()), 4);
  EXPECT_TRUE(q.empty());
}

TEST(RequestQueue, RemovedSlotCanBeReused) {
  RequestQueue q(1);
  Waiter a(1), b(2);
  q.push(a, 0);
  q.remove(a);
  EXPECT_TRUE(q.push(b, 0));
}

TEST(RequestQueue, RemoveOfANonMemberIsANoOp) {
  RequestQueue q(2), other(2);
  Waiter a(1), b(2);
  q.push(a, 0);
  other.push(b, 0);
  q.remove(b);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_TRUE(b.queued());
  EXPECT_EQ(other.size(), 1u);
}

TEST(RequestQueue, WaiterCannotBeQueuedTwice) {
  RequestQueue q(4);
  Waiter a(1);
  ASSERT_TRUE(q.push(a, 0));
  EXPECT_FALSE(q.push(a, 0));
  EXPECT_EQ(q.size(), 1u);
}

TEST(RequestQueue, OnlyWaitersPastTheTimeoutExpire) {
  RequestQueue q(4);
  Waiter a(1), b(2);
  q.push(a, 1000);
  q.push(b, 1500);
  EXPECT_EQ(q.popExpired(1999, 1000), nullptr);
  EXPECT_EQ(idOf(q.popExpired(2000, 1000)), 1);
  EXPECT_EQ(q.popExpired(2000, 1000), nullptr);
  EXPECT_EQ(idOf(q.popExpired(2500, 1000)), 2);
}

TEST(RequestQueue, NextExpiryIsTheOldestWaitersDeadline) {
  RequestQueue q(4);
  Waiter a(1), b(2);
  EXPECT_EQ(q.nextExpiry(1000), 0u);
  q.push(a, 1000);
  q.push(b, 1500);
  EXPECT_EQ(q.nextExpiry(1000), 2000u);
  q.remove(a);
  EXPECT_EQ(q.nextExpiry(1000), 2500u);
}

TEST(RequestQueue, EnqueueTimeIsRecorded) {
  RequestQueue q(4);
  Waiter a(1);
  q.push(a, 1234);
  EXPECT_EQ(a.enqueuedAt(), 1234u);
}

TEST(RequestQueue, DestroyedWaiterLeavesTheQueue) {
  RequestQueue q(4);
  Waiter a(1);
  q.push(a, 0);
  {
    Waiter b(2);
    q.push(b, 0);
  }
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(idOf(q.pop()), 1);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(RequestQueue, DestroyedQueueReleasesItsWaiters) {
  // Under ASan, a waiter pointing at the dead queue would be a use-after-free in ~Waiter.
  Waiter a(1);
  {
    RequestQueue q(4);
    q.push(a, 0);
  }
  EXPECT_FALSE(a.queued());
}

}  // namespace
}  // namespace portcullis::upstream
