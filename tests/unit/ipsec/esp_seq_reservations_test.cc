// Outbound sequence reservations (pure logic over a fake disk, plus the
// real state file in a temporary directory): a restarted SA starts above
// every number its key may have used, never reuses one, and fails loudly
// rather than guessing.

#include "dataplane/ipsec/esp_seq_reservations.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/unit/ipsec/esp_seq_fake_storage.h"

namespace isthmus {
namespace {

using testing::FakeSeqDisk;
using testing::FakeStorage;

constexpr uint64_t kBlock = 1000;
constexpr uint64_t kMax32 = UINT32_MAX;

EspKeyFingerprint Fp(uint8_t seed) {
  EspKeyFingerprint fp{};
  for (size_t i = 0; i < fp.size(); ++i) fp[i] = static_cast<uint8_t>(seed + i);
  return fp;
}

std::unique_ptr<EspSeqReservations> OpenOn(FakeSeqDisk* disk, uint64_t block = kBlock) {
  auto r = EspSeqReservations::Open(FakeStorage(disk), block);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? std::move(*r) : nullptr;
}

std::unique_ptr<EspSeqLease> BeginOk(EspSeqReservations& r, const EspKeyFingerprint& fp, uint32_t spi = 4097,
                                     uint64_t max_seq = kMax32) {
  auto lease = r.Begin("east", spi, fp, max_seq);
  EXPECT_TRUE(lease.ok()) << lease.status();
  return lease.ok() ? std::move(*lease) : nullptr;
}

TEST(EspSeqReservationsTest, FirstStartBeginsAtOneAndReservesBeforeUse) {
  FakeSeqDisk disk;
  auto r = OpenOn(&disk);
  auto lease = BeginOk(*r, Fp(1));
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->first_seq(), 1u);
  EXPECT_EQ(lease->limit(), kBlock);
  EXPECT_EQ(disk.writes, 1) << "the block is on disk before any number is handed out";
  ASSERT_TRUE(disk.contents);
  EXPECT_NE(disk.contents->find(absl::StrCat(" ", kBlock, " 4097 east\n")), std::string::npos) << *disk.contents;
}

TEST(EspSeqReservationsTest, RestartContinuesAboveTheReservation) {
  FakeSeqDisk disk;
  {
    auto r = OpenOn(&disk);
    auto lease = BeginOk(*r, Fp(1));
    ASSERT_TRUE(lease);
    // The daemon used 10 numbers, then died (SIGKILL: nothing more written).
  }
  auto r = OpenOn(&disk);
  auto lease = BeginOk(*r, Fp(1));
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->first_seq(), kBlock + 1) << "one above the reservation: an upper bound of what was sent";
  EXPECT_EQ(lease->limit(), 2 * kBlock);
}

TEST(EspSeqReservationsTest, ExtendsOnlyBelowHalfABlockAndNeverBelowUse) {
  FakeSeqDisk disk;
  auto r = OpenOn(&disk);
  auto lease = BeginOk(*r, Fp(1));
  ASSERT_TRUE(lease);
  struct Step {
    uint64_t used;
    uint64_t limit;
    int writes;
  };
  // Half a block (500) is the low-water mark: at used 499, 501 are left.
  const Step steps[] = {{0, 1000, 1}, {499, 1000, 1}, {500, 1500, 2}, {600, 1500, 2}, {1499, 2499, 3}};
  for (const Step& s : steps) {
    auto limit = lease->Extend(s.used);
    ASSERT_TRUE(limit.ok()) << limit.status();
    EXPECT_EQ(*limit, s.limit) << "used " << s.used;
    EXPECT_EQ(lease->limit(), s.limit);
    EXPECT_EQ(disk.writes, s.writes) << "used " << s.used;
  }
  EXPECT_EQ(r->ReservedFor(Fp(1)), 2499u);
}

TEST(EspSeqReservationsTest, WriteFailureKeepsTheOldLimitAndRestartIsStillSafe) {
  FakeSeqDisk disk;
  auto r = OpenOn(&disk);
  auto lease = BeginOk(*r, Fp(1));
  ASSERT_TRUE(lease);
  disk.fail_writes = true;
  auto limit = lease->Extend(900);
  EXPECT_FALSE(limit.ok());
  EXPECT_EQ(lease->limit(), kBlock) << "a bound that is not on disk is never handed to the worker";
  EXPECT_EQ(r->ReservedFor(Fp(1)), kBlock);
  EXPECT_FALSE(r->Begin("west", 5000, Fp(2), kMax32).ok()) << "no SA starts without its reservation on disk";
  disk.fail_writes = false;
  lease.reset();
  auto again = OpenOn(&disk);
  auto next = BeginOk(*again, Fp(1));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->first_seq(), kBlock + 1);
  EXPECT_EQ(again->ReservedFor(Fp(2)), 0u) << "the failed Begin left no record behind";
}

TEST(EspSeqReservationsTest, OneKeyCannotBeUsedByTwoLiveSas) {
  FakeSeqDisk disk;
  auto r = OpenOn(&disk);
  auto first = BeginOk(*r, Fp(1), 4097);
  ASSERT_TRUE(first);
  auto second = r->Begin("west", 8193, Fp(1), kMax32);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("same key"), std::string::npos) << second.status();
  first.reset();
  auto third = BeginOk(*r, Fp(1), 8193);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->first_seq(), kBlock + 1) << "the same key under a new SPI continues, it does not restart";
}

TEST(EspSeqReservationsTest, RecordsAreKeyedByKeyNotSpi) {
  FakeSeqDisk disk;
  auto r = OpenOn(&disk);
  {
    auto a = BeginOk(*r, Fp(1));
    ASSERT_TRUE(a);
  }
  {
    auto b = BeginOk(*r, Fp(2));  // rekey: new key, its own sequence from 1
    ASSERT_TRUE(b);
    EXPECT_EQ(b->first_seq(), 1u);
  }
  auto back = BeginOk(*r, Fp(1));  // switched back to the old key file
  ASSERT_TRUE(back);
  EXPECT_EQ(back->first_seq(), kBlock + 1);
}

TEST(EspSeqReservationsTest, EndOfSequenceSpace) {
  FakeSeqDisk disk;
  constexpr uint64_t kMax = 1600;
  auto r = OpenOn(&disk);
  auto lease = BeginOk(*r, Fp(1), 4097, kMax);
  ASSERT_TRUE(lease);
  auto limit = lease->Extend(900);
  ASSERT_TRUE(limit.ok());
  EXPECT_EQ(*limit, kMax) << "capped at the sequence space";
  limit = lease->Extend(kMax);
  ASSERT_TRUE(limit.ok());
  EXPECT_EQ(*limit, kMax);
  lease.reset();
  auto over = r->Begin("east", 4097, Fp(1), kMax);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(over.status().message().find("new key file"), std::string::npos) << over.status();
}

TEST(EspSeqReservationsTest, FileFormatRoundTripsAndKeepsTheHighestDuplicate) {
  FakeSeqDisk disk;
  disk.contents = absl::StrCat("# comment\nv1\n", std::string(32, 'a'), " 70 4097 east\n", std::string(32, 'a'),
                               " 90 4098 east\n");
  auto r = OpenOn(&disk);
  ASSERT_TRUE(r);
  EspKeyFingerprint fp;
  fp.fill(0xaa);
  EXPECT_EQ(r->ReservedFor(fp), 90u);
}

struct BadFile {
  const char* name;
  std::string contents;
};

class EspSeqBadFileTest : public ::testing::TestWithParam<BadFile> {};

TEST_P(EspSeqBadFileTest, RefusedNeverReadAsEmpty) {
  FakeSeqDisk disk;
  disk.contents = GetParam().contents;
  auto r = EspSeqReservations::Open(FakeStorage(&disk), kBlock);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("fake.state"), std::string::npos) << "names the file: " << r.status();
}

const std::string kFp(32, 'b');
INSTANTIATE_TEST_SUITE_P(
    Files, EspSeqBadFileTest,
    ::testing::Values(BadFile{"Empty", ""}, BadFile{"NoVersion", kFp + " 5 4097 east\n"},
                      BadFile{"UnknownVersion", "v2\n"}, BadFile{"ShortFingerprint", "v1\nabcd 5 4097 east\n"},
                      BadFile{"NotHex", "v1\n" + std::string(32, 'z') + " 5 4097 east\n"},
                      BadFile{"ZeroReservation", "v1\n" + kFp + " 0 4097 east\n"},
                      BadFile{"TruncatedLine", "v1\n" + kFp + " 5\n"},
                      BadFile{"BadNumber", "v1\n" + kFp + " 5x 4097 east\n"}),
    [](const ::testing::TestParamInfo<BadFile>& info) { return std::string(info.param.name); });

TEST(EspKeyFingerprintTest, StableDistinctAndNotTheKey) {
  EspKey k;
  k.key.assign(16, 0x42);
  k.salt = {1, 2, 3, 4};
  auto a = FingerprintEspKey(EspCipher::kAes128Gcm, k);
  auto b = FingerprintEspKey(EspCipher::kAes128Gcm, k);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EspKey other_salt = k;
  other_salt.salt[3] = 5;
  EspKey other_key = k;
  other_key.key[0] ^= 1;
  EXPECT_NE(*a, *FingerprintEspKey(EspCipher::kAes128Gcm, other_salt));
  EXPECT_NE(*a, *FingerprintEspKey(EspCipher::kAes128Gcm, other_key));
  EspKey k256;
  k256.key.assign(32, 0x42);
  k256.salt = k.salt;
  EXPECT_NE(*a, *FingerprintEspKey(EspCipher::kAes256Gcm, k256));
  size_t same = 0;
  for (size_t i = 0; i < a->size(); ++i) same += (*a)[i] == 0x42;
  EXPECT_LT(same, a->size()) << "the fingerprint is not the key";
}

// The real file, in a fresh temporary directory.
class EspSeqFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isthmus-espseq-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    state_dir_ = dir_ + "/state";  // created by Open
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // One daemon start: opens the directory and claims key `fp` (the
  // reservations are kept in `*keep`, which the lease must not outlive).
  std::unique_ptr<EspSeqLease> Start(const EspKeyFingerprint& fp, std::unique_ptr<EspSeqReservations>* keep) {
    auto storage = EspSeqFileStorage::Open(state_dir_);
    EXPECT_TRUE(storage.ok()) << storage.status();
    if (!storage.ok()) return nullptr;
    auto r = EspSeqReservations::Open(std::move(*storage), kBlock);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return nullptr;
    *keep = std::move(*r);
    return BeginOk(**keep, fp);
  }
  std::string dir_;
  std::string state_dir_;
};

TEST_F(EspSeqFileTest, PersistsAcrossReopenWithPrivateModes) {
  EspKeyFingerprint fp = Fp(7);
  {
    std::unique_ptr<EspSeqReservations> r;
    auto lease = Start(fp, &r);
    ASSERT_TRUE(lease);
    // A second daemon on the same directory is refused while this one runs.
    auto other = EspSeqFileStorage::Open(state_dir_);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition) << other.status();
  }
  struct stat st {};
  const std::string file = absl::StrCat(state_dir_, "/", EspSeqFileStorage::kFileName);
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(state_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));

  std::unique_ptr<EspSeqReservations> r;
  auto lease = Start(fp, &r);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->first_seq(), kBlock + 1);
}

TEST_F(EspSeqFileTest, GroupReadableFileAndRelativeDirectoryRefused) {
  ASSERT_EQ(::mkdir(state_dir_.c_str(), 0700), 0);
  const std::string file = absl::StrCat(state_dir_, "/", EspSeqFileStorage::kFileName);
  FILE* f = fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("v1\n", f);
  fclose(f);
  ASSERT_EQ(::chmod(file.c_str(), 0640), 0);
  auto storage = EspSeqFileStorage::Open(state_dir_);
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto r = EspSeqReservations::Open(std::move(*storage), kBlock);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("0640"), std::string::npos) << r.status();
  EXPECT_FALSE(EspSeqFileStorage::Open("relative/dir").ok());
}

}  // namespace
}  // namespace isthmus
