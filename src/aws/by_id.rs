//! Reads of ENIs by ID. EC2 answers a `DescribeNetworkInterfaces` naming its IDs in one
//! call whatever the account holds, while a filtered read scans the account page by page
//! (a page of 1,000 interfaces may match none of them): in an account of 20,000 ENIs a
//! read of one ENI through a filter costs 20 calls. By ID, an ID EC2 does not know fails
//! the whole call (`InvalidNetworkInterfaceID.NotFound`), so the IDs it names are dropped
//! and the rest read again.

use super::{Ec2, Ec2Error, Eni, EniFilter, Missing};

/// The ENIs among `ids` that exist (one call when they all do).
pub async fn describe_enis_by_id(ec2: &dyn Ec2, ids: &[String]) -> Result<Vec<Eni>, Ec2Error> {
    let mut found = Vec::new();
    let mut todo: Vec<Vec<String>> = vec![ids.to_vec()];
    while let Some(batch) = todo.pop() {
        if batch.is_empty() {
            continue;
        }
        match ec2
            .describe_enis(&EniFilter::by_ids(batch.clone()), None)
            .await
        {
            Ok(page) => found.extend(page.items),
            Err(Ec2Error::NotFound {
                what: Missing::NetworkInterface,
                message,
                ..
            }) => todo.extend(without_named(batch, &message, "eni-")),
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// Describes one ENI by ID; `Ok(None)` when EC2 does not know it.
pub async fn describe_eni(ec2: &dyn Ec2, eni_id: &str) -> Result<Option<Eni>, Ec2Error> {
    let found = describe_enis_by_id(ec2, &[eni_id.to_string()]).await?;
    Ok(found.into_iter().find(|e| e.id == eni_id))
}

/// What to read again after EC2 said some of `batch` does not exist or is malformed
/// (`message`): the batch without the IDs (of `prefix` and hex digits) the message
/// names; if it names none of them, each half on its own (a single ID is the one).
pub fn without_named(batch: Vec<String>, message: &str, prefix: &str) -> Vec<Vec<String>> {
    let named = ids_in(message, prefix);
    let rest: Vec<String> = batch
        .iter()
        .filter(|id| !named.contains(&id.as_str()))
        .cloned()
        .collect();
    if rest.len() < batch.len() {
        return vec![rest];
    }
    if batch.len() == 1 {
        return Vec::new();
    }
    let (a, b) = batch.split_at(batch.len() / 2);
    vec![a.to_vec(), b.to_vec()]
}

/// The IDs (`prefix` and hex digits) in an EC2 message.
pub fn ids_in<'a>(message: &'a str, prefix: &str) -> Vec<&'a str> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            w.strip_prefix(prefix)
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_ids_ec2_names_are_dropped_else_the_batch_is_halved() {
        type Case<'a> = (&'a [&'a str], &'a str, &'a [&'a [&'a str]]);
        let cases: &[Case] = &[
            (
                &["eni-01", "eni-02", "eni-03"],
                "The networkInterface ID 'eni-02' does not exist",
                &[&["eni-01", "eni-03"]],
            ),
            (
                &["eni-01", "eni-02", "eni-03"],
                "The networkInterface IDs 'eni-01, eni-03' do not exist",
                &[&["eni-02"]],
            ),
            (
                &["eni-01", "eni-02", "eni-03", "eni-04"],
                "some interfaces do not exist",
                &[&["eni-01", "eni-02"], &["eni-03", "eni-04"]],
            ),
            (&["eni-01"], "does not exist", &[]),
            // An ID in the message that is not in the batch changes nothing.
            (
                &["eni-01", "eni-02"],
                "The networkInterface ID 'eni-0f' does not exist",
                &[&["eni-01"], &["eni-02"]],
            ),
        ];
        for (batch, message, want) in cases {
            let want: Vec<Vec<String>> = want.iter().map(|w| ids(w)).collect();
            assert_eq!(
                without_named(ids(batch), message, "eni-"),
                want,
                "{message}"
            );
        }
    }

    #[test]
    fn eni_ids_are_read_from_messages() {
        assert_eq!(
            ids_in("IDs 'eni-0a1b, eni-ff' and eni-xyz, eni-", "eni-"),
            ["eni-0a1b", "eni-ff"]
        );
        assert_eq!(
            ids_in("The instance IDs 'i-0a1b, i-ff' do not exist", "i-"),
            ["i-0a1b", "i-ff"]
        );
    }
}
