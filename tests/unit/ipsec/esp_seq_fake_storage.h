#pragma once
// In-memory EspSeqStorage for tests: the "disk" outlives the
// EspSeqReservations that wrote it (a daemon restart is a new
// EspSeqReservations over the same FakeSeqDisk), and writes can be made
// to fail.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "dataplane/ipsec/esp_seq_reservations.h"

namespace isthmus::testing {

struct FakeSeqDisk {
  std::optional<std::string> contents;  // nullopt: no file yet
  int writes = 0;
  bool fail_writes = false;
};

class FakeSeqStorage : public EspSeqStorage {
 public:
  explicit FakeSeqStorage(FakeSeqDisk* disk) : disk_(disk) {}
  absl::StatusOr<std::string> Read() override {
    if (!disk_->contents) return absl::NotFoundError("no file");
    return *disk_->contents;
  }
  absl::Status WriteDurably(std::string_view contents) override {
    if (disk_->fail_writes) return absl::UnavailableError("fake disk full");
    disk_->contents = std::string(contents);
    ++disk_->writes;
    return absl::OkStatus();
  }
  std::string Describe() const override { return "fake.state"; }

 private:
  FakeSeqDisk* disk_;
};

inline std::unique_ptr<EspSeqStorage> FakeStorage(FakeSeqDisk* disk) {
  return std::make_unique<FakeSeqStorage>(disk);
}

}  // namespace isthmus::testing
