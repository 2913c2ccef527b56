#include "proto/encode.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "common/bytes.h"

namespace v2g {

std::string Encode(const google::protobuf::MessageLite& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    V2G_ASSERT(msg.SerializeToCodedStream(&cos));
  }
  return out;
}

std::string EquivocationId(const pb::Vote& v) {
  std::string id = v.validator_address();
  AppendBigEndian64(id, static_cast<uint64_t>(v.height()));
  AppendBigEndian64(id, static_cast<uint64_t>(v.round()));
  id.push_back(static_cast<char>(v.type()));
  return id;
}

}  // namespace v2g
