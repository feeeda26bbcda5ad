// What the admin commands share (app-private): their arguments, the database they work on, the
// lookups whose failure names what is missing, and deleting a device's records.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>

#include "plugmq/app/args.hpp"
#include "plugmq/app/config.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::app {

// Exactly `n` positional arguments; UsageError "missing WHAT" or "unexpected argument 'X'".
void expect_positional(const Args& a, std::size_t n, const char* what);

// Refuses each of `flags` given to `command` ("COMMAND takes no --FLAG").
void refuse_flags(const Args& a, std::initializer_list<const char*> flags, const char* command);

// The data directory's database, which must exist (data_dir.hpp: only `serve` and `account
// add` create one); named in the command's error messages from then on.
store::Db open_db(const Args& args, const Config& config);
store::Db open_db(const Args& args);
// `account add` is the one admin command that creates a database, and says so.
store::Db open_or_create_db(const Args& args, const Config& config);

// Throw store::Error kNotFound naming what is missing.
store::Account account_or_fail(store::Identity& id, const std::string& email);
store::Template template_or_fail(store::Fleet& fleet, const std::string& model);
store::Device device_or_fail(store::Identity& id, const std::string& plug_id);

// Deletes every record `device` published, in short transactions (DataStore::delete_of in
// batches, as the server does for a device deleted over HTTP), so that a server writing to the
// same database waits for none of them long; returns how many went.
std::size_t purge_records(store::DataStore& data, const std::string& device);

}  // namespace plugmq::app
