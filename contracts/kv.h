// Key-value views of the state. The contracts never see LevelDB: they read through KvReader and
// write into an Overlay, which buffers writes over a base so a tx or block applies whole or not at
// all. Keys iterate in byte order, so anything derived from iteration is deterministic.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace v2g {

class KvReader {
 public:
  virtual ~KvReader() = default;
  virtual std::optional<std::string> Get(std::string_view key) const = 0;
  // Calls fn(key, value) for every key starting with prefix, in byte order; stops when fn
  // returns false.
  virtual void Scan(std::string_view prefix,
                    const std::function<bool(std::string_view, std::string_view)>& fn) const = 0;
  // Keyset paging: calls fn(key, value) for the keys starting with prefix, forward in byte order
  // from the first key >= start, or with `reverse` backward from the last key < start; an empty
  // start means from the prefix's first key (forward) or its last (reverse). Stops when fn returns
  // false. Costs one seek plus the keys passed to fn, so a page is read in time proportional to
  // the page however many keys the prefix holds (the API's listings depend on it).
  virtual void ScanFrom(
      std::string_view prefix, std::string_view start, bool reverse,
      const std::function<bool(std::string_view, std::string_view)>& fn) const = 0;
};

// The smallest key greater than every key starting with `prefix` ("" when there is none: the
// prefix is empty or all 0xff bytes).
std::string PrefixEnd(std::string_view prefix);

// A map-backed store for tests and for building genesis.
class MemKv : public KvReader {
 public:
  std::optional<std::string> Get(std::string_view key) const override;
  void Scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  void ScanFrom(std::string_view prefix, std::string_view start, bool reverse,
                const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  void Put(std::string key, std::string value) { data_[std::move(key)] = std::move(value); }
  void Delete(const std::string& key) { data_.erase(key); }
  const std::map<std::string, std::string>& data() const { return data_; }

 private:
  std::map<std::string, std::string> data_;
};

// Buffered writes over a base reader. Not thread-safe; the base must outlive the overlay and not
// change while it is in use.
class Overlay : public KvReader {
 public:
  // nullopt value = deleted.
  using Writes = std::map<std::string, std::optional<std::string>, std::less<>>;

  explicit Overlay(const KvReader* base) : base_(base) {}
  std::optional<std::string> Get(std::string_view key) const override;
  void Scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  // Merges the base's keys with the buffered writes as it goes: costs the base's ScanFrom plus
  // the writes in range.
  void ScanFrom(std::string_view prefix, std::string_view start, bool reverse,
                const std::function<bool(std::string_view, std::string_view)>& fn) const override;

  void Put(std::string_view key, std::string value);
  void Delete(std::string_view key);
  // Moves this overlay's writes into `parent` (whose view must be this overlay's base).
  void MergeInto(Overlay& parent) const;
  const Writes& writes() const { return writes_; }
  void Clear() { writes_.clear(); }

 private:
  const KvReader* base_;
  Writes writes_;
};

}  // namespace v2g
