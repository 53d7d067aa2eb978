//! Generates the product catalog: the category tree, vendors, products with attributes, and the
//! intent topics. It depends only on the seed, never on the number of companies.

use std::collections::{HashMap, HashSet};

use rand::{
    Rng, SeedableRng,
    seq::{IndexedRandom, SliceRandom},
};
use rand_chacha::ChaCha8Rng;

use super::reference::{ANCHOR_PRODUCTS, ATTRIBUTES, CATEGORY_TREE, CategoryNode, TOPIC_QUALIFIERS, VENDORS};

/// A node of the product-category tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Category {
    pub id: u128,
    pub name: String,
    pub description: String,
    pub parent: Option<u32>,
    /// 1 for a root.
    pub level: u8,
    /// Product nouns of a leaf; empty for inner nodes.
    pub nouns: &'static [&'static str],
}

#[derive(Clone, Debug, PartialEq)]
pub struct Vendor {
    pub id: i64,
    pub name: &'static str,
    pub domain: &'static str,
    /// Index of the root category the vendor mostly sells in.
    pub home_root: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub vendor: u32,
    /// Index of the product's (leaf) category.
    pub category: u32,
    /// Indexes into `ATTRIBUTES`.
    pub attributes: Vec<u8>,
    /// Relative chance that a company uses the product.
    pub popularity: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Topic {
    pub id: u128,
    pub name: String,
    pub url: String,
}

/// Everything companies' activity is drawn from.
pub struct Catalog {
    pub categories: Vec<Category>,
    pub vendors: Vec<Vendor>,
    pub products: Vec<Product>,
    pub topics: Vec<Topic>,
    product_by_id: HashMap<i64, u32>,
}

/// The category id HG's own documentation shows in both its padded and unpadded forms.
const DOCUMENTED_CATEGORY_ID: u128 = 0x03B36D42E7F8E60BE58BA4356B6AF40C;

impl Catalog {
    pub fn generate(seed: u64) -> Catalog {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xCA7A_1060);
        let mut categories = Vec::new();
        for root in CATEGORY_TREE {
            add_category(&mut categories, root, None, 1, &mut rng);
        }
        if let Some(sfa) = categories.iter_mut().find(|c| c.name == "Sales Force Automation") {
            sfa.id = DOCUMENTED_CATEGORY_ID;
        }
        let vendors: Vec<Vendor> =
            VENDORS.iter().map(|&(id, name, domain, home_root)| Vendor { id, name, domain, home_root }).collect();
        let products = generate_products(&categories, &vendors, &mut rng);
        let topics = generate_topics(&categories, &mut rng);
        let product_by_id = products.iter().enumerate().map(|(i, p)| (p.id, i as u32)).collect();
        Catalog { categories, vendors, products, topics, product_by_id }
    }

    pub fn product_index(&self, id: i64) -> Option<u32> {
        self.product_by_id.get(&id).copied()
    }

    /// The category and its ancestors, leaf first.
    pub fn category_path(&self, category: u32) -> Vec<u32> {
        path_to_root(&self.categories, category)
    }

    /// Indexes of the root categories, in tree order.
    pub fn roots(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.categories.len() as u32).filter(|&i| self.categories[i as usize].parent.is_none())
    }
}

fn random_hex_id(rng: &mut ChaCha8Rng) -> u128 {
    let id: u128 = rng.random();
    // One id in twelve starts with a zero nibble, so the unpadded quirk is common.
    if rng.random_ratio(1, 12) { id >> 4 } else { id }
}

fn add_category(
    out: &mut Vec<Category>,
    node: &'static CategoryNode,
    parent: Option<u32>,
    level: u8,
    rng: &mut ChaCha8Rng,
) {
    let index = out.len() as u32;
    out.push(Category {
        id: random_hex_id(rng),
        name: node.name.to_string(),
        description: format!("Products and services for {}.", node.name.to_lowercase()),
        parent,
        level,
        nouns: node.nouns,
    });
    for child in node.children {
        add_category(out, child, Some(index), level + 1, rng);
    }
}

fn generate_products(categories: &[Category], vendors: &[Vendor], rng: &mut ChaCha8Rng) -> Vec<Product> {
    let leaf_by_name: HashMap<&str, u32> = categories
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.nouns.is_empty())
        .map(|(i, c)| (c.name.as_str(), i as u32))
        .collect();
    let vendor_by_id: HashMap<i64, u32> = vendors.iter().enumerate().map(|(i, v)| (v.id, i as u32)).collect();
    let mut used_ids: HashSet<i64> = ANCHOR_PRODUCTS.iter().map(|p| p.0).collect();
    let mut used_names: HashSet<String> = HashSet::new();
    let mut products = Vec::new();
    for &(id, vendor_id, name, leaf) in ANCHOR_PRODUCTS {
        used_names.insert(name.to_string());
        products.push(new_product(
            id,
            name.to_string(),
            vendor_by_id[&vendor_id],
            leaf_by_name[leaf],
            60,
            vendors,
            categories,
            rng,
        ));
    }
    // Leaves under each root, to give vendors products in their own market.
    let mut leaves_by_root: HashMap<u32, Vec<u32>> = HashMap::new();
    for &leaf in leaf_by_name.values() {
        let root = *path_to_root(categories, leaf).last().expect("non-empty path");
        leaves_by_root.entry(root).or_default().push(leaf);
    }
    for leaves in leaves_by_root.values_mut() {
        leaves.sort_unstable();
    }
    let roots: Vec<u32> = (0..categories.len() as u32).filter(|&i| categories[i as usize].parent.is_none()).collect();
    let all_leaves: Vec<u32> = {
        let mut v: Vec<u32> = leaf_by_name.values().copied().collect();
        v.sort_unstable();
        v
    };
    for (vendor_index, vendor) in vendors.iter().enumerate() {
        let wanted = rng.random_range(3..=5);
        let mut made = products.iter().filter(|p| p.vendor == vendor_index as u32).count();
        let mut attempts = 0;
        while made < wanted && attempts < 20 {
            attempts += 1;
            let leaf = if rng.random_ratio(4, 5) {
                *leaves_by_root[&roots[vendor.home_root]].choose(rng).expect("root has leaves")
            } else {
                *all_leaves.choose(rng).expect("leaves exist")
            };
            let noun = categories[leaf as usize].nouns.choose(rng).expect("leaf has nouns");
            let name = format!("{} {}", vendor.name, noun);
            if !used_names.insert(name.clone()) {
                continue;
            }
            let id = loop {
                let id = rng.random_range(1_000..10_000);
                if used_ids.insert(id) {
                    break id;
                }
            };
            let popularity = rng.random_range(1..=20);
            products.push(new_product(id, name, vendor_index as u32, leaf, popularity, vendors, categories, rng));
            made += 1;
        }
    }
    products
}

#[allow(clippy::too_many_arguments)]
fn new_product(
    id: i64,
    name: String,
    vendor: u32,
    category: u32,
    popularity: u32,
    vendors: &[Vendor],
    categories: &[Category],
    rng: &mut ChaCha8Rng,
) -> Product {
    let mut attributes: Vec<u8> = (0..ATTRIBUTES.len() as u8).collect();
    attributes.shuffle(rng);
    attributes.truncate(rng.random_range(1..=3));
    attributes.sort_unstable();
    Product {
        id,
        description: format!(
            "{name}: {} software from {}.",
            categories[category as usize].name.to_lowercase(),
            vendors[vendor as usize].name
        ),
        name,
        vendor,
        category,
        attributes,
        popularity,
    }
}

fn path_to_root(categories: &[Category], mut index: u32) -> Vec<u32> {
    let mut path = vec![index];
    while let Some(parent) = categories[index as usize].parent {
        path.push(parent);
        index = parent;
    }
    path
}

fn generate_topics(categories: &[Category], rng: &mut ChaCha8Rng) -> Vec<Topic> {
    let mut topics = Vec::new();
    for category in categories.iter().filter(|c| !c.nouns.is_empty()) {
        for qualifier in TOPIC_QUALIFIERS {
            let name = format!("{}{}", category.name, qualifier);
            let slug: String =
                name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
            topics.push(Topic { id: random_hex_id(rng), url: format!("https://topics.example.org/{slug}"), name });
        }
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_documented_shape() {
        let catalog = Catalog::generate(7);
        assert!((250..=400).contains(&catalog.products.len()), "{} products", catalog.products.len());
        assert_eq!(catalog.vendors.len(), VENDORS.len());
        assert!(catalog.categories.iter().any(|c| c.level == 5), "the tree reaches level 5");
        let sfa = &catalog.products[catalog.product_index(814).unwrap() as usize];
        assert_eq!(sfa.name, "Salesforce CRM");
        assert_eq!(catalog.categories[sfa.category as usize].id, DOCUMENTED_CATEGORY_ID);
        let ids: HashSet<i64> = catalog.products.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), catalog.products.len(), "product ids are unique");
    }

    #[test]
    fn catalog_depends_only_on_the_seed() {
        let a = Catalog::generate(1);
        let b = Catalog::generate(1);
        let c = Catalog::generate(2);
        let names = |c: &Catalog| c.products.iter().map(|p| (p.id, p.name.clone())).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        assert_ne!(names(&a), names(&c));
    }
}
